package store

// tenantSettingsMigration keeps each tenant's settings (its quota and its containers' default
// resources, contract.TenantSettings) as JSON.
func tenantSettingsMigration() migration {
	return migration{
		version: 6,
		name:    "tenant settings: quota and container defaults",
		sqlite:  []string{`ALTER TABLE tenants ADD COLUMN settings TEXT NULL`},
		mysql:   []string{`ALTER TABLE tenants ADD COLUMN settings LONGTEXT NULL`},
	}
}
