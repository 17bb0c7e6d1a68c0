package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// The API's OpenAPI 3.1 document, served without authentication at GET /v1/openapi.json (it says what
// the API accepts, nothing about what it holds). Its schemas come from the Go types the handlers
// decode and encode (openapi_schema.go); its operations are the table below.

// openAPIPath is where the document is served.
const openAPIPath = "/v1/openapi.json"

// apiOperations documents every route of routes.go, one entry a route.
//
// ADDING A ROUTE? Add its line here too, next to its neighbours: the method, the path as routes.go
// spells it (chi patterns, {param} for a path parameter), an operationId, a one-line summary, then its
// request and answers: body[T]() or optionalBody[T]() for the JSON body a handler decodes,
// answers[T](status) for what it writes (lists[T]() for a page of a list), and problems(...) for the
// problem types it can answer beyond the ones every route of its kind can (see defaultProblems).
// TestOpenAPIMatchesRoutes fails until every route registered on the router is here and every line
// here is a route.
func apiOperations() []apiOperation {
	const (
		tenant    = "/v1/tenants/{tenant}"
		app       = tenant + "/apps/{app}"
		component = app + "/components/{component}"
		operation = tenant + "/operations/{operation}"
	)
	queued := componentOperation()
	return []apiOperation{
		get("/healthz", "healthz", "Answer 200 while the process serves", public(), answers[map[string]string](200)),
		get("/readyz", "readyz", "Answer 200 when the store and Temporal answer", public(), answers[map[string]string](200),
			problems(typeStoreUnavailable, typeWorkflowsUnavailable)),
		get("/metrics", "metrics", "Prometheus metrics of the API", public(), answersText(200, "text/plain; version=0.0.4")),
		get(openAPIPath, "openapi", "This OpenAPI document", public(), answersText(200, "application/json")),

		get("/v1/me", "getMe", "Who the caller is", answers[meView](200)),
		post("/v1/users", "createUser", "Create a user (platform admins only)", adminOnly(), body[createUserRequest](),
			answers[userView](201), location(), problems(typeValidation, typeAlreadyExists)),
		get("/v1/users", "listUsers", "List the users (platform admins only)", adminOnly(), lists[userView]()),
		get("/v1/users/{user}", "getUser", "Read a user (platform admins, or the user itself)", answers[userView](200)),
		patch("/v1/users/{user}", "patchUser", "Change a user's display name or admin flag (platform admins only)", adminOnly(),
			body[patchUserRequest](), answers[userView](200), problems(typeValidation)),
		del("/v1/users/{user}", "deleteUser", "Delete a user with its tokens and memberships (platform admins only)", adminOnly(),
			answers[none](204)),
		get("/v1/users/{user}/memberships", "listUserMemberships", "List the tenants the user is a member of, with its roles",
			lists[membershipView]()),
		post("/v1/users/{user}/tokens", "createToken", "Make an API token; its secret is answered this once",
			body[createTokenRequest](), answers[createdTokenView](201), location(), problems(typeValidation, typeAlreadyExists)),
		get("/v1/users/{user}/tokens", "listTokens", "List the user's API tokens (never their secrets)", answers[list[tokenView]](200)),
		del("/v1/users/{user}/tokens/{token}", "revokeToken", "Revoke an API token", answers[none](204)),
		get("/v1/audit", "listAllAudit", "Read the whole audit trail, newest first (platform admins only)", adminOnly(),
			lists[auditEventView](), auditFilters(true)),

		post("/v1/tenants", "createTenant", "Create a tenant and start its setup (platform admins only)", adminOnly(),
			body[createTenantRequest](), answers[tenantView](201), location(),
			problems(typeValidation, typeAlreadyExists, typeWorkflowsUnavailable)),
		get("/v1/tenants", "listTenants", "List the tenants the caller can see", lists[tenantView]()),
		get(tenant, "getTenant", "Read a tenant", answers[tenantView](200)),
		patch(tenant, "patchTenant", "Change a tenant's display name, quota or container defaults (platform admins only)", adminOnly(),
			body[patchTenantRequest](), answers[tenantView](200), problems(typeValidation, typeWorkflowsUnavailable)),
		del(tenant, "deleteTenant", "Delete a tenant without apps, and its namespace (platform admins only; an operation)", adminOnly(),
			answers[operationAccepted](202), location(), problems(typeNotEmpty, typeWorkflowsUnavailable)),
		get(tenant+"/members", "listMembers", "List the tenant's members and their roles", lists[membershipView]()),
		get(tenant+"/members/{user}", "getMember", "Read a member's role", answers[membershipView](200)),
		put(tenant+"/members/{user}", "putMember", "Make a user a member, or change its role (tenant admins)", body[putMemberRequest](),
			answers[membershipView](200), answers[membershipView](201), location(), problems(typeValidation)),
		del(tenant+"/members/{user}", "deleteMember", "Take a user out of the tenant (tenant admins)", answers[none](204)),
		get(tenant+"/audit", "listTenantAudit", "Read the tenant's audit trail, newest first (tenant admins)",
			lists[auditEventView](), auditFilters(false)),

		post(tenant+"/apps", "createApp", "Create an app", body[createAppRequest](), answers[appView](201), location(),
			problems(typeValidation, typeAlreadyExists)),
		get(tenant+"/apps", "listApps", "List the tenant's apps", lists[appView]()),
		get(app, "getApp", "Read an app", answers[appView](200)),
		del(app, "deleteApp", "Delete an app without components", answers[none](204), problems(typeNotEmpty)),
		post(app+"/deploys", "createAppDeploy", "Deploy every component of the app in dependency order",
			optionalBody[deployRequest](), appOperation(), problems(typeImageNotFound, typeImageDenied, typeRegistryUnavailable)),
		post(app+"/start", "createAppStart", "Start every component of the app in dependency order", optionalBody[emptyRequest](), appOperation()),
		post(app+"/stop", "createAppStop", "Stop every component of the app, dependents first", optionalBody[emptyRequest](), appOperation()),
		post(app+"/restart", "createAppRestart", "Restart every component of the app in dependency order", optionalBody[emptyRequest](), appOperation()),
		get(app+"/operations", "listAppOperations", "List the app's operations and its components', newest first",
			lists[operationView](), operationFilters()),

		post(app+"/components", "createComponent", "Create a component", body[createComponentRequest](), answers[componentView](201),
			location(), etag(), problems(typeValidation, typeAlreadyExists)),
		get(app+"/components", "listComponents", "List the app's components", lists[componentView]()),
		get(component, "getComponent", "Read a component; its ETag is its version", answers[componentView](200), etag()),
		put(component, "putComponent", "Replace a component's spec", body[putComponentRequest](), header(ifMatch(true)),
			answers[componentView](200), etag(), problems(typeValidation, typePreconditionRequired, typePreconditionFailed)),
		del(component, "deleteComponent", "Delete a component and its Kubernetes objects (an operation)", queued,
			query(volumesQuery()), problems(typeComponentInUse)),
		get(component+"/secret-env", "getSecretEnv", "Read the names of the component's secret env variables (never their values); its ETag is its version",
			answers[secretEnvView](200), etag()),
		put(component+"/secret-env", "putSecretEnv", "Replace every secret env variable (sealed at rest; applied by the next deploy)",
			body[putSecretEnvRequest](), header(ifMatch(false)), answers[secretEnvView](200), etag(),
			problems(typeValidation, typePreconditionFailed, typeNoEncryptionKey)),
		patch(component+"/secret-env", "patchSecretEnv", "Set or remove some secret env variables (applied by the next deploy)",
			body[patchSecretEnvRequest](), header(ifMatch(false)), answers[secretEnvView](200), etag(),
			problems(typeValidation, typePreconditionFailed, typeNoEncryptionKey)),
		post(component+"/deploys", "createDeploy", "Deploy the component's spec", optionalBody[deployRequest](), queued,
			problems(typeImageNotFound, typeImageDenied, typeRegistryUnavailable)),
		post(component+"/rollbacks", "createRollback", "Run an earlier release again", body[rollbackRequest](), queued,
			problems(typeImageNotFound, typeImageDenied, typeRegistryUnavailable, typeStoreUnavailable, typeNoEncryptionKey)),
		post(component+"/start", "createStart", "Start a stopped component", optionalBody[emptyRequest](), queued),
		post(component+"/stop", "createStop", "Stop a component (zero replicas)", optionalBody[emptyRequest](), queued),
		post(component+"/builds", "createBuild", "Build the component from an uploaded archive (the body: application/gzip, application/x-tar or application/zip, settings in the query) or from a git repository or an image to import (a JSON body); optionally deploy it",
			body[buildRequest](), answers[operationAccepted](202), location(), buildQueryDoc(),
			problems(typeValidation, typeBuildsUnavailable, typeRegistryUnavailable, typeWorkflowsUnavailable, typeBodyTooLarge)),
		post(component+"/restart", "createRestart", "Replace every pod, without downtime", optionalBody[emptyRequest](), queued),
		post(component+"/scale", "createScale", "Change the number of replicas", body[scaleRequest](), queued,
			problems(typeStoreUnavailable)),
		get(component+"/operations", "listComponentOperations", "List the component's operations, newest first",
			lists[operationView](), operationFilters()),
		get(component+"/releases", "listReleases", "List the component's releases, newest first", lists[releaseView]()),
		get(component+"/releases/{release}", "getRelease", "Read one of the component's releases", answers[releaseView](200)),
		get(component+"/logs", "getComponentLogs", "Read the component's runtime output (or, kind=access, its access log), oldest first",
			answers[logPage](200), logReadQuery(true), problems(typeLogsUnavailable)),
		get(component+"/logs/tail", "tailComponentLogs", "Follow the component's runtime output over a websocket: the last lines, then live ones",
			answersText(101, "websocket"), logTailQuery(true), problems(typeLogsUnavailable)),
		get(component+"/versions", "listVersions", "List the images the component ran or had built, newest first, by digest",
			lists[versionView]()),
		post(component+"/routes", "createRoute", "Create a route; on a deployed component a Routes operation applies it",
			body[routeRequest](), answers[routeWritten](201), location(), etag(),
			problems(typeValidation, typeAlreadyExists, typeRouteConflict, typeQueueFull, typeWorkflowsUnavailable)),
		get(component+"/routes", "listRoutes", "List the component's routes", lists[routeView]()),
		get(component+"/routes/{route}", "getRoute", "Read a route; its ETag is its version", answers[routeView](200), etag()),
		put(component+"/routes/{route}", "putRoute", "Replace a route; on a deployed component a Routes operation applies it",
			body[routeRequest](), header(ifMatch(true)), answers[routeWritten](200), etag(),
			problems(typeValidation, typePreconditionRequired, typePreconditionFailed, typeRouteConflict, typeQueueFull, typeWorkflowsUnavailable)),
		del(component+"/routes/{route}", "deleteRoute", "Delete a route; on a deployed component a Routes operation takes it off the gateway",
			header(ifMatch(false)), answers[routeWritten](200), problems(typePreconditionFailed, typeQueueFull, typeWorkflowsUnavailable)),

		post(tenant+"/certificates", "createCertificate", "Add a TLS certificate chain and its key (sealed at rest, never answered)",
			body[certificateRequest](), answers[certificateView](201), location(), problems(typeValidation, typeAlreadyExists, typeNoEncryptionKey)),
		get(tenant+"/certificates", "listCertificates", "List the tenant's certificates", lists[certificateView]()),
		get(tenant+"/certificates/{certificate}", "getCertificate", "Read a certificate and when it expires (never its key)",
			answers[certificateView](200)),
		put(tenant+"/certificates/{certificate}", "putCertificate", "Renew a certificate; Routes operations apply it to the deployed components using it",
			body[putCertificateRequest](), answers[certificateRenewed](200), problems(typeValidation, typeNoEncryptionKey, typeWorkflowsUnavailable)),
		del(tenant+"/certificates/{certificate}", "deleteCertificate", "Delete a certificate no route uses", answers[none](204),
			problems(typeCertificateInUse)),

		get(tenant+"/credentials", "listCredentials", "List the tenant's source credentials: names, types, hosts, versions (never a secret)",
			lists[credentialView]()),
		get(tenant+"/credentials/{credential}", "getCredential", "Read a source credential's name, type, host and version (never its secret)",
			answers[credentialView](200)),
		put(tenant+"/credentials/{credential}", "putCredential", "Create (201) or replace (200) a source credential for builds: a git token, an SSH key or a registry login, sealed at rest",
			body[credentialRequest](), answers[credentialView](201), answers[credentialView](200), location(),
			problems(typeValidation, typeNoEncryptionKey, typeStoreUnavailable)),
		del(tenant+"/credentials/{credential}", "deleteCredential", "Delete a source credential", answers[none](204)),

		get(tenant+"/operations", "listTenantOperations", "List the tenant's operations, newest first",
			lists[operationView](), operationFilters()),
		get(operation, "getOperation", "Read an operation with its state, steps and result from Temporal",
			answers[operationView](200), problems(typeWorkflowsUnavailable)),
		get(operation+"/logs", "getOperationLogs", "Read the operation's event log: each step's start, progress, retries and end",
			answers[logPage](200), logReadQuery(false), query(operationLogKind()), problems(typeLogsUnavailable)),
		get(operation+"/logs/tail", "tailOperationLogs", "Follow the operation's event log over a websocket: the events so far, then live ones",
			answersText(101, "websocket"), logTailQuery(false), query(operationLogKind()), problems(typeLogsUnavailable)),
		post(operation+"/cancel", "cancelOperation", "Cancel a running or queued operation", optionalBody[emptyRequest](),
			answers[operationView](202), location(), problems(typeOperationNotRunning, typeWorkflowsUnavailable)),
	}
}

// problemStatuses are the statuses each problem type is answered with. A new problem type joins it
// (TestOpenAPIProblemTypes finds every problemBase constant of the package).
func problemStatuses() map[string][]int {
	return map[string][]int{
		typeUnauthorized:         {401},
		typeForbidden:            {403},
		typeNotFound:             {404},
		typeMethodNotAllowed:     {405},
		typeMalformedRequest:     {400},
		typeUnsupportedMediaType: {415},
		typeBodyTooLarge:         {413},
		typeValidation:           {422},
		typeAlreadyExists:        {409},
		typeNotEmpty:             {409},
		typeQueueFull:            {429},
		typeOperationNotRunning:  {409},
		typePreconditionFailed:   {412},
		typePreconditionRequired: {428},
		typeIdempotencyKeyReused: {422},
		typeImageNotFound:        {422},
		typeImageDenied:          {422},
		typeRegistryUnavailable:  {502, 503},
		typeWorkflowsUnavailable: {503},
		typeStoreUnavailable:     {503},
		typeInternal:             {500},
		typeLogsUnavailable:      {503},
		typeBuildsUnavailable:    {503},
		typeComponentInUse:       {409},
		typeNoEncryptionKey:      {503},
		typeRouteConflict:        {409},
		typeCertificateInUse:     {409},
	}
}

// defaultProblems are the problem types every operation of its kind can answer: any route a 500;
// an authenticated one 401; one inside a tenant 403 (the caller's role is short) and 404 (the
// tenant, or what the path names, is not there or not visible); one with a body 400, 413 and 415; a
// list 400 (limit, cursor, filters).
func defaultProblems(op apiOperation) []string {
	out := []string{typeInternal}
	if !op.public {
		out = append(out, typeUnauthorized)
	}
	if op.admin || strings.Contains(op.path, "{tenant}") {
		out = append(out, typeForbidden)
	}
	if strings.Contains(op.path, "{") {
		out = append(out, typeNotFound)
	}
	if op.body != nil {
		out = append(out, typeMalformedRequest, typeBodyTooLarge, typeUnsupportedMediaType)
	}
	if op.list || len(op.query) > 0 {
		out = append(out, typeMalformedRequest)
	}
	return out
}

// apiOperation is one documented route.
type apiOperation struct {
	method, path, id, summary string
	public, admin, list       bool
	body                      reflect.Type // nil: none
	bodyOptional              bool
	query, headers            []apiParam
	responses                 []apiResponse
	problems                  []string
}

// apiParam is a query parameter or a request header.
type apiParam struct {
	name, description string
	required          bool
	schema            map[string]any
}

// apiResponse is one successful answer.
type apiResponse struct {
	status      int
	body        reflect.Type // nil: none
	contentType string       // of a body that is not JSON
	headers     []string     // names of responseHeaders
}

// none is the body of an answer without one.
type none struct{}

// emptyRequest is the body of a request that takes none but {}: it may be absent.
type emptyRequest struct{}

type opOption func(*apiOperation)

func route(method, path, id, summary string, opts []opOption) apiOperation {
	op := apiOperation{method: method, path: path, id: id, summary: summary}
	for _, o := range opts {
		o(&op)
	}
	return op
}

func get(path, id, summary string, opts ...opOption) apiOperation {
	return route(http.MethodGet, path, id, summary, opts)
}

func post(path, id, summary string, opts ...opOption) apiOperation {
	return route(http.MethodPost, path, id, summary, opts)
}

func put(path, id, summary string, opts ...opOption) apiOperation {
	return route(http.MethodPut, path, id, summary, opts)
}

func patch(path, id, summary string, opts ...opOption) apiOperation {
	return route(http.MethodPatch, path, id, summary, opts)
}

func del(path, id, summary string, opts ...opOption) apiOperation {
	return route(http.MethodDelete, path, id, summary, opts)
}

// public: no bearer token needed.
func public() opOption { return func(op *apiOperation) { op.public = true } }

// adminOnly: platform admins only.
func adminOnly() opOption { return func(op *apiOperation) { op.admin = true } }

// body: the request's JSON body, required, decoded strictly into T.
func body[T any]() opOption {
	return func(op *apiOperation) { op.body, op.bodyOptional = reflect.TypeFor[T](), false }
}

// optionalBody: the request's JSON body, decoded into T when present.
func optionalBody[T any]() opOption {
	return func(op *apiOperation) { op.body, op.bodyOptional = reflect.TypeFor[T](), true }
}

// answers: a successful JSON answer of T with the status (none: no body).
func answers[T any](status int) opOption {
	return func(op *apiOperation) {
		var t reflect.Type
		if tt := reflect.TypeFor[T](); tt != reflect.TypeFor[none]() {
			t = tt
		}
		op.responses = append(op.responses, apiResponse{status: status, body: t})
	}
}

// answersText: a successful answer that is not described by a Go type.
func answersText(status int, contentType string) opOption {
	return func(op *apiOperation) {
		op.responses = append(op.responses, apiResponse{status: status, contentType: contentType})
	}
}

// lists: a page of a list of T, with limit and cursor.
func lists[T any]() opOption {
	return func(op *apiOperation) {
		op.list = true
		op.query = append(op.query, limitQuery(), cursorQuery())
		answers[list[T]](200)(op)
		withHeader("Link")(op)
	}
}

// query: query parameters.
func query(params ...apiParam) opOption {
	return func(op *apiOperation) { op.query = append(op.query, params...) }
}

// header: request headers.
func header(params ...apiParam) opOption {
	return func(op *apiOperation) { op.headers = append(op.headers, params...) }
}

// problems: the problem types the operation answers beyond defaultProblems.
func problems(types ...string) opOption {
	return func(op *apiOperation) { op.problems = append(op.problems, types...) }
}

// withHeader adds a response header to the operation's successful answers.
func withHeader(name string) opOption {
	return func(op *apiOperation) {
		for i := range op.responses {
			op.responses[i].headers = append(op.responses[i].headers, name)
		}
	}
}

func location() opOption { return withHeader("Location") }

func etag() opOption { return withHeader("ETag") }

// componentOperation: a component operation taken into its queue (startOperation).
func componentOperation() opOption {
	return func(op *apiOperation) {
		header(idempotencyKey(), ifMatch(false))(op)
		answers[operationAccepted](202)(op)
		withHeader("Location")(op)
		withHeader("Idempotent-Replayed")(op)
		problems(typeValidation, typeIdempotencyKeyReused, typePreconditionFailed, typeQueueFull, typeWorkflowsUnavailable)(op)
	}
}

// appOperation: an app operation (startAppOperation).
func appOperation() opOption {
	return func(op *apiOperation) {
		answers[appOperationAccepted](202)(op)
		withHeader("Location")(op)
		problems(typeValidation, typeWorkflowsUnavailable)(op)
	}
}

// operationFilters: the filters of the operation lists (operationFilterOf).
func operationFilters() opOption {
	kinds := operationKinds()
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return query(
		apiParam{name: kindParam, description: "only operations of this kind", schema: map[string]any{"type": "string", "enum": names}},
		apiParam{name: requestedByParam, description: "only operations requested by this principal",
			schema: map[string]any{"type": "string", "maxLength": maxRequestedBy}},
		apiParam{name: sinceParam, description: "only operations created at or after this time (RFC 3339)",
			schema: map[string]any{"type": "string", "format": "date-time"}},
		apiParam{name: untilParam, description: "only operations created before this time (RFC 3339), later than since",
			schema: map[string]any{"type": "string", "format": "date-time"}},
	)
}

// buildQueryDoc: the settings of an archive build, in its query (buildQuery reads them).
func buildQueryDoc() opOption {
	str := map[string]any{"type": "string"}
	return query(
		apiParam{name: "name", description: "the archive's file name, kept with the version", schema: str},
		apiParam{name: "dir", description: "the directory of the source to build (a component of a repository of several)", schema: str},
		apiParam{name: "builder", description: "force a builder instead of the detected one",
			schema: map[string]any{"type": "string", "enum": []string{contract.BuilderDockerfile, contract.BuilderKo, contract.BuilderGenerated}}},
		apiParam{name: "dockerfile", description: "the Dockerfile's path inside dir", schema: str},
		apiParam{name: "target", description: "the Dockerfile stage to build", schema: str},
		apiParam{name: "deploy", description: "deploy the built image (true/false)", schema: map[string]any{"type": "boolean"}},
		apiParam{name: "timeoutSeconds", description: "the build's time limit (default 3600)", schema: map[string]any{"type": "integer", "minimum": 1, "maximum": maxBuildTimeoutSeconds}},
		apiParam{name: "keepVersions", description: "how many of the component's newest versions to keep, deleting older ones no release ran (default 10; 0 keeps all)",
			schema: map[string]any{"type": "integer", "minimum": 0, "maximum": maxKeepVersions}},
	)
}

// logReadQuery: the parameters of a log read (the collector's), and the stream kind of a component's.
func logReadQuery(kind bool) opOption {
	params := []apiParam{
		{name: "since", description: "only lines at or after this time (RFC 3339)", schema: map[string]any{"type": "string", "format": "date-time"}},
		{name: "until", description: "only lines before this time (RFC 3339)", schema: map[string]any{"type": "string", "format": "date-time"}},
		{name: "q", description: "only lines whose message contains this text", schema: map[string]any{"type": "string"}},
		{name: "limit", description: "lines per page, 1 to 5000 (default 500)", schema: map[string]any{"type": "integer", "minimum": 1, "maximum": 5000}},
		{name: "cursor", description: "the cursor of the previous page", schema: map[string]any{"type": "string"}},
	}
	if kind {
		params = append(params, logKindParam())
	}
	return query(params...)
}

// logTailQuery: the parameters of a log tail.
func logTailQuery(kind bool) opOption {
	params := []apiParam{
		{name: "backfill", description: "how many of the latest lines to send first", schema: map[string]any{"type": "integer", "minimum": 0}},
		{name: "q", description: "only lines whose message contains this text", schema: map[string]any{"type": "string"}},
	}
	if kind {
		params = append(params, logKindParam())
	}
	return query(params...)
}

func operationLogKind() apiParam {
	return apiParam{name: "kind", description: "event (the steps, the default) or build (a build's output)",
		schema: map[string]any{"type": "string", "enum": []string{streamEvent, streamBuild}}}
}

func logKindParam() apiParam {
	return apiParam{name: "kind", description: "runtime (the containers' output, the default) or access (the gateway's access log)",
		schema: map[string]any{"type": "string", "enum": []string{streamRuntime, streamAccess}}}
}

// auditFilters: the filters of the audit trail (auditFilterOf); the whole trail's also by tenant.
func auditFilters(byTenant bool) opOption {
	params := []apiParam{
		{name: "principal", description: "only what this principal did", schema: map[string]any{"type": "string"}},
		{name: "since", description: "only events at or after this time (RFC 3339)", schema: map[string]any{"type": "string", "format": "date-time"}},
		{name: "until", description: "only events before this time (RFC 3339)", schema: map[string]any{"type": "string", "format": "date-time"}},
	}
	if byTenant {
		params = append(params, apiParam{name: "tenant", description: "only events inside this tenant", schema: map[string]any{"type": "string"}})
	}
	return query(params...)
}

// Parameters several operations share.

func limitQuery() apiParam {
	return apiParam{name: "limit", description: "the most items in the page",
		schema: map[string]any{"type": "integer", "minimum": 1, "maximum": store.MaxPageLimit, "default": store.DefaultPageLimit}}
}

func cursorQuery() apiParam {
	return apiParam{name: "cursor", description: "where the page starts: the nextCursor of the page before",
		schema: map[string]any{"type": "string"}}
}

func volumesQuery() apiParam {
	return apiParam{name: volumesParam, description: "keep (the default) or delete the component's volume claims and their data",
		schema: map[string]any{"type": "string", "enum": []string{volumesKeep, volumesDelete}, "default": volumesKeep}}
}

func idempotencyKey() apiParam {
	return apiParam{name: idempotencyKeyHeader,
		description: "makes the request safe to retry: the same key in the tenant answers the same operation",
		schema:      map[string]any{"type": "string", "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"}}
}

func ifMatch(required bool) apiParam {
	return apiParam{name: "If-Match", required: required, description: "the component's ETag (version) the request was made at",
		schema: map[string]any{"type": "string"}}
}

// responseHeaders describes the headers successful answers carry.
func responseHeaders() map[string]string {
	return map[string]string{
		"Location":            "where the created resource, or the operation to follow, is",
		"ETag":                "the component's version, for If-Match",
		"Link":                `the next page, rel="next", when there is one`,
		"Idempotent-Replayed": "true when the Idempotency-Key named an operation an earlier request started",
	}
}

// pathParams are the names of the path's {parameters}, in order.
var pathParamPattern = regexp.MustCompile(`\{([^}/]+)\}`)

func pathParams(path string) []string {
	var out []string
	for _, m := range pathParamPattern.FindAllStringSubmatch(path, -1) {
		out = append(out, m[1])
	}
	return out
}

// openAPIDocument builds the document: every operation of apiOperations, the schemas of their
// bodies and answers, and the Problem schema that every error answer refers to.
func openAPIDocument() (map[string]any, error) { return newSchemaGenerator().document() }

// document builds the document with g's schemas.
func (g *schemaGenerator) document() (map[string]any, error) {
	problem := g.schema(reflect.TypeFor[Problem](), output)
	statuses := problemStatuses()
	paths := map[string]any{}
	ids := map[string]bool{}
	var errs []string
	for _, op := range apiOperations() {
		if ids[op.id] {
			errs = append(errs, fmt.Sprintf("operationId %s is used twice", op.id))
		}
		ids[op.id] = true
		item, _ := paths[op.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[op.path] = item
		}
		method := strings.ToLower(op.method)
		if _, dup := item[method]; dup {
			errs = append(errs, fmt.Sprintf("%s %s is documented twice", op.method, op.path))
		}
		doc, opErrs := openAPIOperation(g, op, problem, statuses)
		errs = append(errs, opErrs...)
		item[method] = doc
	}
	for _, err := range g.errs {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return nil, fmt.Errorf("build the OpenAPI document: %s", strings.Join(errs, "; "))
	}
	problemTypes := map[string]any{}
	for typ, st := range statuses {
		problemTypes[typ] = st
	}
	return map[string]any{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info": map[string]any{
			"title":   "Rainflow API",
			"version": contract.Version,
			"description": "Rainflow's REST API: tenants, apps, components, and the operations that change them, run as " +
				"Temporal workflows. Every error is an RFC 9457 problem (application/problem+json); x-problem-types lists " +
				"each problem type with the statuses it comes with.",
		},
		"servers":         []any{map[string]any{"url": "/"}},
		"security":        []any{map[string]any{"bearer": []string{}}},
		"paths":           paths,
		"x-problem-types": problemTypes,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "an API token: Authorization: Bearer <token>"},
			},
		},
	}, nil
}

// openAPIOperation answers one operation's object.
func openAPIOperation(g *schemaGenerator, op apiOperation, problem map[string]any, statuses map[string][]int) (map[string]any, []string) {
	var errs []string
	doc := map[string]any{"operationId": op.id, "summary": op.summary, "tags": []string{tagOf(op.path)}}
	if op.public {
		doc["security"] = []any{}
	}
	var params []any
	for _, name := range pathParams(op.path) {
		params = append(params, map[string]any{"name": name, "in": "path", "required": true,
			"description": "the " + name + "'s " + idOrName(name), "schema": map[string]any{"type": "string"}})
	}
	for _, p := range op.query {
		params = append(params, paramDoc(p, "query"))
	}
	for _, p := range op.headers {
		params = append(params, paramDoc(p, "header"))
	}
	if len(params) > 0 {
		doc["parameters"] = params
	}
	if op.body != nil {
		doc["requestBody"] = map[string]any{
			"required": !op.bodyOptional,
			"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(op.body, input)}},
		}
	}
	responses := map[string]any{}
	for _, r := range op.responses {
		resp := map[string]any{"description": http.StatusText(r.status)}
		switch {
		case r.body != nil:
			resp["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(r.body, output)}}
		case r.contentType != "":
			resp["content"] = map[string]any{r.contentType: map[string]any{"schema": map[string]any{}}}
		}
		if len(r.headers) > 0 {
			headers := map[string]any{}
			for _, h := range r.headers {
				desc, ok := responseHeaders()[h]
				if !ok {
					errs = append(errs, fmt.Sprintf("%s %s: response header %s is not in responseHeaders", op.method, op.path, h))
				}
				headers[h] = map[string]any{"description": desc, "schema": map[string]any{"type": "string"}}
			}
			resp["headers"] = headers
		}
		responses[strconv.Itoa(r.status)] = resp
	}
	byStatus := map[int][]string{}
	for _, typ := range slices.Concat(defaultProblems(op), op.problems) {
		st, ok := statuses[typ]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s %s: problem type %s is not in problemStatuses", op.method, op.path, typ))
		}
		for _, s := range st {
			if !slices.Contains(byStatus[s], typ) {
				byStatus[s] = append(byStatus[s], typ)
			}
		}
	}
	for _, st := range slices.Sorted(maps.Keys(byStatus)) {
		types := byStatus[st]
		slices.Sort(types)
		responses[strconv.Itoa(st)] = map[string]any{
			"description":     http.StatusText(st) + ": " + strings.Join(types, ", "),
			"x-problem-types": types,
			"content":         map[string]any{problemContentType: map[string]any{"schema": problem}},
		}
	}
	doc["responses"] = responses
	return doc, errs
}

func paramDoc(p apiParam, in string) map[string]any {
	return map[string]any{"name": p.name, "in": in, "required": p.required, "description": p.description, "schema": p.schema}
}

// idOrName: operations are named by id, everything else by name.
func idOrName(param string) string {
	if param == "operation" {
		return "id"
	}
	return "name"
}

// tagOf groups an operation by the resource its path is about.
func tagOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if p := parts[i]; p != "" && !strings.HasPrefix(p, "{") && p != "v1" {
			switch p {
			case "deploys", "rollbacks", "start", "stop", "restart", "scale", "cancel":
				continue
			}
			return p
		}
	}
	return "api"
}

// serveOpenAPI answers the document, built on the first request.
func serveOpenAPI() http.HandlerFunc {
	doc := sync.OnceValues(func() ([]byte, error) {
		d, err := openAPIDocument()
		if err != nil {
			return nil, err
		}
		return json.MarshalIndent(d, "", "  ")
	})
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := doc()
		if err != nil {
			writeProblem(w, r, &Problem{Type: typeInternal, Status: http.StatusInternalServerError, Detail: err.Error()})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b)
	}
}
