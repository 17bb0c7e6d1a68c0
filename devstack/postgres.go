package devstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Postgres is a PostgreSQL server of the test suite: its data folder, socket folder, pid and log file
// under one folder, listening on 127.0.0.1 only, its superuser "postgres" trusted without a password.
type Postgres struct {
	Dir  string
	Port int

	sup  *supervisor
	bin  string              // the server
	cred *syscall.Credential // the user it runs as when we are root (PostgreSQL refuses root); nil: ours
	log  *slog.Logger
}

// postgresSuperuser is the superuser initdb creates.
const postgresSuperuser = "postgres"

// StartPostgres starts (or, when one is already running from dir, reuses) a PostgreSQL server with
// its data in dir, listening on 127.0.0.1:port. The data folder is initialized on first use with the
// server's initdb (Debian's postgresql package: `make deps`), in the C locale and UTF-8. PostgreSQL
// refuses to run as root: as root, the server and initdb run as the postgres user (the package creates
// it), which owns the data and socket folders and must be able to reach dir.
func StartPostgres(ctx context.Context, dir string, port int) (*Postgres, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve postgres dir: %w", err)
	}
	binDir, err := postgresBinDir()
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w (install postgresql: `make deps`)", err)
	}
	log := slog.Default().With("component", "postgres")
	p := &Postgres{Dir: dir, Port: port, bin: filepath.Join(binDir, "postgres"), log: log,
		sup: newSupervisor(dir, dir, 60*time.Second, log)}
	if os.Geteuid() == 0 {
		if p.cred, err = postgresUser(); err != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
	}
	data, run := filepath.Join(dir, "data"), filepath.Join(dir, "run")
	if err := p.ownedDir(dir, 0o755, false); err != nil {
		return nil, err
	}
	if err := p.ownedDir(run, 0o755, true); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		if err := p.initdb(ctx, filepath.Join(binDir, "initdb"), data); err != nil {
			return nil, err
		}
	}
	c := component{
		name: "postgres",
		bin:  p.bin,
		args: []string{
			"-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories=" + run,
			"-c", "max_connections=300",
			// durable across a crash of the server, not of the machine: enough for tests, and much faster
			"-c", "synchronous_commit=off",
			"-c", "log_timezone=UTC",
		},
		ports:  []int{port},
		health: p.ping,
		cred:   p.cred,
	}
	if _, err := p.sup.ensure(ctx, c); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	return p, nil
}

// postgresBinDir finds the folder of the newest installed server: Debian keeps each major version in
// /usr/lib/postgresql/<major>/bin; elsewhere postgres and initdb are on the PATH.
func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(d string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return n }
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(major(b), major(a)) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "postgres")) && isFile(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil && isFile(filepath.Join(filepath.Dir(p), "initdb")) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("postgres and initdb not found")
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// postgresUser answers the credential of the postgres user, or of nobody when there is none.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		if u, err = user.Lookup("nobody"); err != nil {
			return nil, errors.New("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as")
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %s has a non-numeric uid %q or gid %q", u.Username, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// ownedDir creates path with mode unless it exists; with own, it is (re)given to the server's user.
func (p *Postgres) ownedDir(path string, mode os.FileMode, own bool) error {
	if err := os.MkdirAll(path, mode); err != nil {
		return fmt.Errorf("create postgres dir: %w", err)
	}
	if own && p.cred != nil {
		if err := os.Chown(path, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return fmt.Errorf("give %s to the postgres user: %w", path, err)
		}
	}
	return nil
}

func (p *Postgres) initdb(ctx context.Context, tool, data string) error {
	if err := p.ownedDir(data, 0o700, true); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, tool, "-D", data, "-U", postgresSuperuser, "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir = p.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(data)
		hint := ""
		if p.cred != nil {
			hint = fmt.Sprintf(" (initdb runs as uid %d: every folder above %s must let it through, o+x)", p.cred.Uid, p.Dir)
		}
		return fmt.Errorf("initialize postgres data in %s%s: %w: %s", data, hint, err, tailString(string(out), 20))
	}
	return nil
}

// ping passes when the superuser can run a query over TCP.
func (p *Postgres) ping(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.dsn("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// RootDSN answers the URL of the server's superuser on its postgres database, for tests that make
// databases of their own.
func (p *Postgres) RootDSN() string { return p.dsn("postgres") }

func (p *Postgres) dsn(database string) string {
	u := url.URL{Scheme: "postgres", User: url.User(postgresSuperuser),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)), Path: "/" + database,
		RawQuery: "sslmode=disable&connect_timeout=5"}
	return u.String()
}

var postgresDatabaseName = regexp.MustCompile(`^[A-Za-z0-9_]{1,63}$`)

// CreateDatabase creates database unless it exists, in UTF-8 and the C collation (names ordered
// bytewise, as on SQLite and MariaDB).
func (p *Postgres) CreateDatabase(ctx context.Context, database string) error {
	if !postgresDatabaseName.MatchString(database) {
		return fmt.Errorf("create database %q: want letters, digits and underscores", database)
	}
	conn, err := pgx.Connect(ctx, p.RootDSN())
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", database).Scan(&exists); err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, `CREATE DATABASE "`+database+`" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: created meanwhile
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	return nil
}

// DropDatabase drops database, disconnecting its sessions; a missing one is not an error.
func (p *Postgres) DropDatabase(ctx context.Context, database string) error {
	if !postgresDatabaseName.MatchString(database) {
		return fmt.Errorf("drop database %q: want letters, digits and underscores", database)
	}
	conn, err := pgx.Connect(ctx, p.RootDSN())
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS "`+database+`" WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop database %s: %w", database, err)
	}
	return nil
}

// DSN creates database (when it is missing) and returns a URL for it:
// postgres://postgres@127.0.0.1:PORT/database?sslmode=disable. A failure to create it is logged, and
// the first connection through the URL then reports the missing database.
func (p *Postgres) DSN(database string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.CreateDatabase(ctx, database); err != nil {
		p.log.Error("create database", "database", database, "err", err)
	}
	return p.dsn(database)
}

// Stop stops the server with a fast shutdown (open transactions roll back, sessions are disconnected,
// the data is checkpointed); its data stays for the next StartPostgres.
func (p *Postgres) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if pid, _, ok := p.sup.running("postgres", p.bin); ok {
		// SIGINT is PostgreSQL's fast shutdown; the supervisor's SIGTERM (a smart shutdown, which waits
		// for every session to end) then changes nothing
		_ = syscall.Kill(pid, syscall.SIGINT)
	}
	return p.sup.stop(ctx, "postgres", p.bin, 30*time.Second)
}
