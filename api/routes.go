package api

import (
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rainflow/rainflow/store"
)

// routes is the API's whole surface, one line a route.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, accessLog(s.logger), instrument(s.metrics), recoverPanics(s.logger))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, notFound("no route %s %s; the API lives under /v1", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, &Problem{
			Type: typeMethodNotAllowed, Status: http.StatusMethodNotAllowed,
			Detail: fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path),
		})
	})

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	r.Get(openAPIPath, serveOpenAPI())

	r.Group(func(r chi.Router) {
		r.Use(authenticate(s.auth), s.audit)

		r.Get("/v1/me", s.handle(s.getMe))
		r.With(requireAdmin).Post("/v1/users", s.handle(s.createUser))
		r.With(requireAdmin).Get("/v1/users", s.handle(s.listUsers))
		r.Get("/v1/users/{user}", s.handle(s.getUser))
		r.With(requireAdmin).Delete("/v1/users/{user}", s.handle(s.deleteUser))
		r.With(requireAdmin).Patch("/v1/users/{user}", s.handle(s.patchUser))
		r.Get("/v1/users/{user}/memberships", s.handle(s.listUserMemberships))
		r.Post("/v1/users/{user}/tokens", s.handle(s.createToken))
		r.Get("/v1/users/{user}/tokens", s.handle(s.listTokens))
		r.Delete("/v1/users/{user}/tokens/{token}", s.handle(s.revokeToken))
		r.With(requireAdmin).Get("/v1/audit", s.handle(s.listAllAudit))

		r.With(requireAdmin).Post("/v1/tenants", s.handle(s.createTenant))
		r.Get("/v1/tenants", s.handle(s.listTenants))
		// Everything inside a tenant: tenantScope admits only the tenant's members (and the platform
		// admin), viewers to read, developers to change; routes that manage the tenant itself ask for
		// its admins on top.
		r.Route("/v1/tenants/{tenant}", func(r chi.Router) {
			const component = "/apps/{app}/components/{component}"
			// but a component's GET, the hottest read, admits the caller itself, from the one query that
			// reads the tenant with the component (getComponent)
			r.Get(component, s.handle(s.getComponent))
			r = r.With(s.tenantScope)
			r.Get("/", s.handle(s.getTenant))
			r.With(requireAdmin).Delete("/", s.handle(s.deleteTenant))
			r.With(requireAdmin).Patch("/", s.handle(s.patchTenant))
			r.Get("/members", s.handle(s.listMembers))
			r.Get("/members/{user}", s.handle(s.getMember))
			r.With(requireTenantRole(store.RoleAdmin)).Put("/members/{user}", s.handle(s.putMember))
			r.With(requireTenantRole(store.RoleAdmin)).Delete("/members/{user}", s.handle(s.deleteMember))
			r.With(requireTenantRole(store.RoleAdmin)).Get("/audit", s.handle(s.listTenantAudit))

			r.Post("/apps", s.handle(s.createApp))
			r.Get("/apps", s.handle(s.listApps))
			r.Get("/apps/{app}", s.handle(s.getApp))
			r.Delete("/apps/{app}", s.handle(s.deleteApp))
			r.Post("/apps/{app}/deploys", s.handle(s.createAppDeploy))
			r.Post("/apps/{app}/start", s.handle(s.createAppStart))
			r.Post("/apps/{app}/stop", s.handle(s.createAppStop))
			r.Post("/apps/{app}/restart", s.handle(s.createAppRestart))
			r.Get("/apps/{app}/operations", s.handle(s.listAppOperations))

			r.Post("/apps/{app}/components", s.handle(s.createComponent))
			r.Get("/apps/{app}/components", s.handle(s.listComponents))
			r.Put(component, s.handle(s.putComponent))
			r.Delete(component, s.handle(s.createDelete))
			r.Get(component+"/secret-env", s.handle(s.getSecretEnv))
			r.Put(component+"/secret-env", s.handle(s.putSecretEnv))
			r.Patch(component+"/secret-env", s.handle(s.patchSecretEnv))
			r.Post(component+"/deploys", s.handle(s.createDeploy))
			r.Post(component+"/rollbacks", s.handle(s.createRollback))
			r.Post(component+"/start", s.handle(s.createStart))
			r.Post(component+"/stop", s.handle(s.createStop))
			r.Post(component+"/restart", s.handle(s.createRestart))
			r.Post(component+"/scale", s.handle(s.createScale))
			r.Post(component+"/builds", s.handle(s.createBuild))
			r.Get(component+"/operations", s.handle(s.listOperations))
			r.Get(component+"/releases", s.handle(s.listReleases))
			r.Get(component+"/releases/{release}", s.handle(s.getRelease))
			r.Get(component+"/versions", s.handle(s.listVersions))
			r.Get(component+"/logs", s.handle(s.getComponentLogs))
			r.Get(component+"/logs/tail", s.handle(s.tailComponentLogs))
			r.Post(component+"/routes", s.handle(s.createRoute))
			r.Get(component+"/routes", s.handle(s.listRoutes))
			r.Get(component+"/routes/{route}", s.handle(s.getRoute))
			r.Put(component+"/routes/{route}", s.handle(s.putRoute))
			r.Delete(component+"/routes/{route}", s.handle(s.deleteRoute))

			r.Post("/certificates", s.handle(s.createCertificate))
			r.Get("/certificates", s.handle(s.listCertificates))
			r.Get("/certificates/{certificate}", s.handle(s.getCertificate))
			r.Put("/certificates/{certificate}", s.handle(s.putCertificate))
			r.Delete("/certificates/{certificate}", s.handle(s.deleteCertificate))

			r.Get("/credentials", s.handle(s.listCredentials))
			r.Get("/credentials/{credential}", s.handle(s.getCredential))
			r.Put("/credentials/{credential}", s.handle(s.putCredential))
			r.Delete("/credentials/{credential}", s.handle(s.deleteCredential))

			r.Get("/operations", s.handle(s.listTenantOperations))
			r.Get("/operations/{operation}", s.handle(s.getOperation))
			r.Post("/operations/{operation}/cancel", s.handle(s.cancelOperation))
			r.Get("/operations/{operation}/logs", s.handle(s.getOperationLogs))
			r.Get("/operations/{operation}/logs/tail", s.handle(s.tailOperationLogs))
		})
	})
	return r
}
