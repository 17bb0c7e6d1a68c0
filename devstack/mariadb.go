package devstack

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB is a MariaDB server of the test suite: its own data folder, socket and pid file under one
// folder, listening on 127.0.0.1 only, root without a password.
type MariaDB struct {
	Dir  string
	Port int

	sup *supervisor
	bin string
	log *slog.Logger
}

// StartMariaDB starts (or, when one is already running from dir, reuses) a MariaDB server with its data
// in dir, listening on 127.0.0.1:port. The data folder is initialized on first use with Debian's
// mariadb-install-db. It runs as root (--user=root) since the test suite does.
func StartMariaDB(ctx context.Context, dir string, port int) (*MariaDB, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve mariadb dir: %w", err)
	}
	bin, err := findExecutable("mariadbd", "/usr/sbin/mariadbd", "/usr/sbin/mysqld")
	if err != nil {
		return nil, fmt.Errorf("start mariadb: %w (install mariadb-server: `make deps`)", err)
	}
	log := slog.Default().With("component", "mariadb")
	m := &MariaDB{Dir: dir, Port: port, bin: bin, log: log,
		sup: newSupervisor(dir, dir, 60*time.Second, log)}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "mysql")); err != nil {
		if err := m.install(ctx, data); err != nil {
			return nil, err
		}
	}
	c := component{
		name: "mariadbd",
		bin:  bin,
		args: []string{
			"--no-defaults", "--datadir=" + data, "--socket=" + filepath.Join(dir, "mariadbd.sock"),
			"--pid-file=" + filepath.Join(dir, "mariadbd.server.pid"), "--port=" + strconv.Itoa(port),
			"--bind-address=127.0.0.1", "--user=root", "--skip-name-resolve", "--skip-log-bin",
			"--innodb-flush-log-at-trx-commit=2", "--innodb-buffer-pool-size=128M",
			"--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
			"--max-connections=500", "--log-error=" + filepath.Join(dir, "mariadbd.err"),
		},
		ports:  []int{port},
		health: m.ping,
	}
	if _, err := m.sup.ensure(ctx, c); err != nil {
		return nil, fmt.Errorf("start mariadb: %w; server log:\n%s", err, tailFile(filepath.Join(dir, "mariadbd.err"), 20))
	}
	return m, nil
}

func (m *MariaDB) install(ctx context.Context, data string) error {
	tool, err := findExecutable("mariadb-install-db", "/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db")
	if err != nil {
		return fmt.Errorf("initialize mariadb: %w", err)
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return fmt.Errorf("create mariadb data dir: %w", err)
	}
	cmd := exec.CommandContext(ctx, tool, "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(data)
		return fmt.Errorf("initialize mariadb data in %s: %w: %s", data, err, tailString(string(out), 20))
	}
	return nil
}

// ping passes when root can run a query over TCP.
func (m *MariaDB) ping(ctx context.Context) error {
	db, err := sql.Open("mysql", m.rootDSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

// RootDSN answers the DSN of the server's root user without a database, for tests that make their own.
func (m *MariaDB) RootDSN() string { return m.rootDSN("") }

func (m *MariaDB) rootDSN(database string) string {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "tcp"
	c.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Port))
	c.DBName = database
	c.ParseTime = true
	c.MultiStatements = true
	c.Timeout = 5 * time.Second
	return c.FormatDSN()
}

var databaseName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// CreateDatabase creates database unless it exists.
func (m *MariaDB) CreateDatabase(ctx context.Context, database string) error {
	if !databaseName.MatchString(database) {
		return fmt.Errorf("create database %q: want letters, digits and underscores", database)
	}
	db, err := sql.Open("mysql", m.rootDSN(""))
	if err != nil {
		return fmt.Errorf("open mariadb: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+database+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	return nil
}

// DSN creates database (when it is missing) and returns a go-sql-driver DSN for it:
// root@tcp(127.0.0.1:PORT)/database?parseTime=true&multiStatements=true. A failure to create it is
// logged, and the first query through the DSN then reports the missing database.
func (m *MariaDB) DSN(database string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.CreateDatabase(ctx, database); err != nil {
		m.log.Error("create database", "database", database, "err", err)
	}
	return m.rootDSN(database)
}

// Stop stops the server; its data stays for the next StartMariaDB.
func (m *MariaDB) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return m.sup.stop(ctx, "mariadbd", m.bin, 30*time.Second)
}

func findExecutable(name string, candidates ...string) (string, error) {
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found", name)
}

func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
