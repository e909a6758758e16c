package digicerttest

// The control API: the out-of-band methods of Server (AddOrder, Approve,
// Reissue, Inject, ...) over HTTP, so that a person, or a script in a spec
// repository's CI, can play CertCentral's console and DigiCert's staff
// against a fake that certform fake-server serves in another process.

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ControlPath is the path prefix of the control API. CertCentral's own
// paths all lie below BasePath ("/services/v2"), so none can clash with it.
const ControlPath = "/_fake"

// Handler returns a handler that serves the CertCentral API (s itself) and,
// below ControlPath, the control API (ControlHandler): what certform
// fake-server serves.
func (s *Server) Handler() http.Handler {
	control := s.ControlHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == ControlPath || strings.HasPrefix(r.URL.Path, ControlPath+"/") {
			control.ServeHTTP(w, r)
			return
		}
		s.ServeHTTP(w, r)
	})
}

// ControlHandler returns a handler for the control API below ControlPath:
// JSON in and out, every call with the fake's API key in X-DC-DEVKEY (401
// otherwise). Control calls are not recorded as requests, meet no fault
// and count against no rate limit. The calls, with {id} an order id:
//
//	GET    /_fake/orders                              every order, by id: {"orders": [order...]}
//	POST   /_fake/orders                              add an order placed outside certform: 201 order
//	GET    /_fake/orders/{id}                         one order
//	POST   /_fake/orders/{id}/approve                 issue an order that needs approval or is pending (Approve)
//	POST   /_fake/orders/{id}/pending                 status pending (SetPending)
//	POST   /_fake/orders/{id}/reissue                 a new certificate, as a console reissue (Reissue)
//	POST   /_fake/orders/{id}/reissue/approve         issue the reissue that waits (ApproveReissue)
//	POST   /_fake/orders/{id}/reissue/reject          reject the reissue that waits (RejectReissue)
//	POST   /_fake/orders/{id}/renew                   renew outside certform (RenewOutside): 201 the new order
//	POST   /_fake/orders/{id}/ends-in                 {"days": N}: the order ends in N days (OrderEndsIn)
//	POST   /_fake/orders/{id}/certificate/ends-in     {"days": N}: a certificate that ends in N days (ExpireSoon)
//	POST   /_fake/orders/{id}/status                  {"status": S} (SetStatus)
//	POST   /_fake/orders/{id}/settings                {"disable_ct": B, "auto_reissue": B}, either or both (SetCT, SetAutoReissue)
//	POST   /_fake/orders/{id}/revoke                  {"comments": C}: revoked in the console (Revoke)
//	POST   /_fake/orders/{id}/revoke/approve          approve the revoke request that waits (ApproveRevoke)
//	POST   /_fake/orders/{id}/revoke/reject           reject the revoke request that waits (RejectRevoke)
//	GET    /_fake/faults                              the faults still in force: {"faults": [fault...]}
//	POST   /_fake/faults                              inject a fault (Inject): 201 fault
//	DELETE /_fake/faults                              clear every fault (ClearFaults): {"faults": []}
//
// An order call answers the order as it is afterwards (200). An error is
// {"error": "message"}: 400 for a body that is not what the call takes
// (unknown fields included), 401 for a missing or wrong key, 404 for an
// unknown order or path, 405 for a wrong method, 409 when the order is not
// in a state the call applies to (approving an issued order, say), in
// which case nothing changed.
//
// The check and the change are two steps: a CertCentral call that changes
// the same order in between (a reissue, say) can make a control call that
// was answered 200 do nothing, as the out-of-band methods do.
func (s *Server) ControlHandler() http.Handler {
	return http.HandlerFunc(s.serveControl)
}

// controlError is a control call's failure: an HTTP status and a message.
type controlError struct {
	status int
	msg    string
	allow  string // the methods allowed, for a 405
}

func ctlErr(status int, format string, args ...any) *controlError {
	return &controlError{status: status, msg: fmt.Sprintf(format, args...)}
}

func writeControlError(w http.ResponseWriter, e *controlError) {
	writeJSON(w, e.status, map[string]string{"error": e.msg})
}

// controlBodyLimit caps a control call's body; a fault's raw body is the
// largest thing one carries.
const controlBodyLimit = 1 << 20

// orderStatuses are the order statuses CertCentral reports that the fake
// can be set to.
var orderStatuses = []string{"needs_approval", "pending", "processing", "waiting_pickup", "issued", "reissue_pending", "revoked", "canceled", "rejected", "expired"}

func knownStatus(status string) bool { return slices.Contains(orderStatuses, status) }

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	key := s.key
	s.mu.Unlock()
	if got := r.Header.Get("X-DC-DEVKEY"); key == "" || subtle.ConstantTimeCompare([]byte(got), []byte(key)) != 1 {
		writeControlError(w, ctlErr(http.StatusUnauthorized, "missing or wrong API key: send the fake's key in the X-DC-DEVKEY header, as to its CertCentral API"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, controlBodyLimit)
	rest, ok := strings.CutPrefix(r.URL.Path, ControlPath)
	if !ok {
		writeControlError(w, ctlErr(http.StatusNotFound, "no control call %s %s; the control API lies below %s", r.Method, r.URL.Path, ControlPath))
		return
	}
	status, v, e := s.controlRoute(r, strings.TrimSuffix(rest, "/"))
	if e != nil {
		if e.allow != "" {
			w.Header().Set("Allow", e.allow)
		}
		writeControlError(w, e)
		return
	}
	writeJSON(w, status, v)
}

// controlRoute carries out the control call for the path rest below
// ControlPath and returns the answer's status and body.
func (s *Server) controlRoute(r *http.Request, rest string) (int, any, *controlError) {
	switch rest {
	case "/orders":
		if e := allowMethod(r, rest, http.MethodGet, http.MethodPost); e != nil {
			return 0, nil, e
		}
		if r.Method == http.MethodGet {
			return s.controlList()
		}
		return s.controlAdd(r)
	case "/faults":
		if e := allowMethod(r, rest, http.MethodGet, http.MethodPost, http.MethodDelete); e != nil {
			return 0, nil, e
		}
		switch r.Method {
		case http.MethodGet:
			return http.StatusOK, map[string]any{"faults": s.liveFaults()}, nil
		case http.MethodPost:
			return s.controlInject(r)
		}
		s.ClearFaults()
		return http.StatusOK, map[string]any{"faults": []controlFault{}}, nil
	}
	return s.controlOrderRoute(r, rest)
}

// allowMethod is the 405 for a control call at rest whose method is not
// one of allowed, nil when it is.
func allowMethod(r *http.Request, rest string, allowed ...string) *controlError {
	if slices.Contains(allowed, r.Method) {
		return nil
	}
	e := ctlErr(http.StatusMethodNotAllowed, "%s %s%s: method not allowed; use %s", r.Method, ControlPath, rest, strings.Join(allowed, " or "))
	e.allow = strings.Join(allowed, ", ")
	return e
}

// controlOrderRoute serves the control calls on one order,
// /orders/{id}[/action]: GET for the order itself, POST for an action of
// orderCalls. It answers with the order as it is after the call (with
// renew, the new order).
func (s *Server) controlOrderRoute(r *http.Request, rest string) (int, any, *controlError) {
	notFound := ctlErr(http.StatusNotFound, "no control call %s %s%s; see \"Trying certform by hand\" in docs/fake-server.md", r.Method, ControlPath, rest)
	after, ok := strings.CutPrefix(rest, "/orders/")
	if !ok {
		return 0, nil, notFound
	}
	idText, action, _ := strings.Cut(after, "/")
	id, err := strconv.Atoi(idText)
	if err != nil || id <= 0 || strconv.Itoa(id) != idText {
		return 0, nil, notFound
	}
	call, known := orderCalls[action]
	if !known {
		return 0, nil, notFound
	}
	want := http.MethodPost
	if action == "" {
		want = http.MethodGet
	}
	if e := allowMethod(r, rest, want); e != nil {
		return 0, nil, e
	}
	o, found := s.Order(id)
	if !found {
		return 0, nil, ctlErr(http.StatusNotFound, "order %d not found", id)
	}
	status, e := call(s, r, o)
	if e != nil {
		return 0, nil, e
	}
	if status == 0 {
		status = http.StatusOK
	}
	if action == "renew" {
		return status, s.controlOrderOf(o.ID, true), nil
	}
	return status, s.controlOrderOf(id, false), nil
}

// orderCall carries out one control call on the order o (a copy, read just
// before) and returns the answer's status (0: 200).
type orderCall func(s *Server, r *http.Request, o Order) (int, *controlError)

// orderCalls are the control calls on one order, by the path after
// /_fake/orders/{id}; "" is GET of the order itself.
var orderCalls = map[string]orderCall{
	"": func(*Server, *http.Request, Order) (int, *controlError) { return 0, nil },
	"approve": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		if e := noBody(r); e != nil {
			return 0, e
		}
		if o.Status != "needs_approval" && o.Status != "pending" {
			return 0, ctlErr(http.StatusConflict, "order %d is %s; only an order that needs approval or is pending can be approved", o.ID, o.Status)
		}
		s.Approve(o.ID)
		return 0, nil
	},
	"pending": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		if e := noBody(r); e != nil {
			return 0, e
		}
		s.SetPending(o.ID)
		return 0, nil
	},
	"reissue": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		if e := noBody(r); e != nil {
			return 0, e
		}
		if o.CertificatePEM == nil {
			return 0, ctlErr(http.StatusConflict, "order %d has no certificate to reissue (it is %s); approve it first", o.ID, o.Status)
		}
		s.Reissue(o.ID)
		return 0, nil
	},
	"reissue/approve": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		return decideReissue(s, r, o, s.ApproveReissue)
	},
	"reissue/reject": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		return decideReissue(s, r, o, s.RejectReissue)
	},
	"renew": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		if e := noBody(r); e != nil {
			return 0, e
		}
		if o.IsRenewed {
			return 0, ctlErr(http.StatusConflict, "order %d has already been renewed by order %d; it cannot be renewed again", o.ID, o.RenewedOrderID)
		}
		if s.RenewOutside(o.ID) == 0 {
			return 0, ctlErr(http.StatusConflict, "order %d was renewed meanwhile; it cannot be renewed again", o.ID)
		}
		return http.StatusCreated, nil
	},
	"ends-in": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		left, e := decodeDays(r)
		if e != nil {
			return 0, e
		}
		s.OrderEndsIn(o.ID, left)
		return 0, nil
	},
	"certificate/ends-in": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		left, e := decodeDays(r)
		if e != nil {
			return 0, e
		}
		if o.CertificatePEM == nil {
			return 0, ctlErr(http.StatusConflict, "order %d has no certificate (it is %s); approve it first", o.ID, o.Status)
		}
		s.ExpireSoon(o.ID, left)
		return 0, nil
	},
	"status": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		var body struct {
			Status *string `json:"status"`
		}
		if e := decodeControl(r, &body); e != nil {
			return 0, e
		}
		if body.Status == nil {
			return 0, ctlErr(http.StatusBadRequest, "status is required, one of %s", strings.Join(orderStatuses, ", "))
		}
		if !knownStatus(*body.Status) {
			return 0, ctlErr(http.StatusBadRequest, "status %q is not one of %s", *body.Status, strings.Join(orderStatuses, ", "))
		}
		s.SetStatus(o.ID, *body.Status)
		return 0, nil
	},
	"settings": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		var body struct {
			DisableCT   *bool `json:"disable_ct"`
			AutoReissue *bool `json:"auto_reissue"`
		}
		if e := decodeControl(r, &body); e != nil {
			return 0, e
		}
		if body.DisableCT == nil && body.AutoReissue == nil {
			return 0, ctlErr(http.StatusBadRequest, "give disable_ct, auto_reissue or both")
		}
		if body.DisableCT != nil {
			s.SetCT(o.ID, *body.DisableCT)
		}
		if body.AutoReissue != nil {
			s.SetAutoReissue(o.ID, *body.AutoReissue)
		}
		return 0, nil
	},
	"revoke": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		var body struct {
			Comments string `json:"comments"`
		}
		if e := decodeControl(r, &body); e != nil {
			return 0, e
		}
		if strings.TrimSpace(body.Comments) == "" {
			return 0, ctlErr(http.StatusBadRequest, "comments is required: why the order is revoked")
		}
		if o.Status == "revoked" {
			return 0, ctlErr(http.StatusConflict, "order %d is already revoked", o.ID)
		}
		s.Revoke(o.ID, body.Comments)
		return 0, nil
	},
	"revoke/approve": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		return decideRevoke(s, r, o, s.ApproveRevoke)
	},
	"revoke/reject": func(s *Server, r *http.Request, o Order) (int, *controlError) {
		return decideRevoke(s, r, o, s.RejectRevoke)
	},
}

func decideReissue(s *Server, r *http.Request, o Order, decide func(int)) (int, *controlError) {
	if e := noBody(r); e != nil {
		return 0, e
	}
	waiting := false
	for _, rr := range o.Reissues {
		waiting = waiting || rr.Status == "pending"
	}
	if !waiting {
		return 0, ctlErr(http.StatusConflict, "order %d has no reissue waiting for approval", o.ID)
	}
	decide(o.ID)
	return 0, nil
}

func decideRevoke(s *Server, r *http.Request, o Order, decide func(int)) (int, *controlError) {
	if e := noBody(r); e != nil {
		return 0, e
	}
	if o.Revoke == nil || o.Revoke.Status != "pending" {
		return 0, ctlErr(http.StatusConflict, "order %d has no revoke request waiting for approval", o.ID)
	}
	decide(o.ID)
	return 0, nil
}

// maxDays bounds the days of the ends-in calls: ten years either way.
const maxDays = 3650

func decodeDays(r *http.Request) (time.Duration, *controlError) {
	var body struct {
		Days *int `json:"days"`
	}
	if e := decodeControl(r, &body); e != nil {
		return 0, e
	}
	if body.Days == nil {
		return 0, ctlErr(http.StatusBadRequest, "days is required: a whole number of days from now, 0 or less for one that has ended")
	}
	if *body.Days < -maxDays || *body.Days > maxDays {
		return 0, ctlErr(http.StatusBadRequest, "days %d is out of range: at most %d either way", *body.Days, maxDays)
	}
	return time.Duration(*body.Days) * 24 * time.Hour, nil
}

// decodeControl decodes a control call's JSON body into v, strictly: one
// object, no unknown field, each field of its type. An empty body is an
// empty object. The content type is not checked, so that curl -d works
// without -H.
func decodeControl(r *http.Request, v any) *controlError {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return ctlErr(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", controlBodyLimit)
		}
		return ctlErr(http.StatusBadRequest, "reading the body: %v", err)
	}
	if strings.TrimSpace(string(data)) == "" {
		data = []byte("{}")
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return ctlErr(http.StatusBadRequest, "%s must be %s, got %s", typeErr.Field, jsonKind(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &typeErr):
		return ctlErr(http.StatusBadRequest, "the body must be a JSON object, got %s", typeErr.Value)
	case errors.As(err, &syntaxErr):
		return ctlErr(http.StatusBadRequest, "the body is not JSON: %v", syntaxErr)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return ctlErr(http.StatusBadRequest, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return ctlErr(http.StatusBadRequest, "the body is not a JSON object: %v", err)
}

// jsonKind names the JSON type that a Go type decodes from.
func jsonKind(goType string) string {
	goType = strings.TrimPrefix(goType, "*")
	switch {
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "a string"
	case goType == "int":
		return "a whole number"
	case strings.HasPrefix(goType, "[]"):
		return "a list of " + strings.TrimPrefix(jsonKind(goType[2:]), "a ") + "s"
	}
	return "a JSON " + goType
}

// noBody refuses a body other than nothing or {} on a call that takes none.
func noBody(r *http.Request) *controlError {
	var body struct{}
	return decodeControl(r, &body)
}

// controlOrder is an order as the control API shows it. Field names follow
// certform's specs (product, organization_id) and status --json
// (not_after); times are RFC 3339 in UTC, to the second.
type controlOrder struct {
	ID                 int              `json:"id"`
	Status             string           `json:"status"`
	CommonName         string           `json:"common_name"`
	DNSNames           []string         `json:"dns_names"`
	SignatureHash      string           `json:"signature_hash,omitempty"`
	Product            string           `json:"product,omitempty"`
	OrganizationID     int              `json:"organization_id,omitempty"`
	DisableCT          bool             `json:"disable_ct"`
	AutoReissue        bool             `json:"auto_reissue"`
	AlternativeOrderID string           `json:"alternative_order_id,omitempty"`
	Created            string           `json:"created"`
	OrderValidTill     string           `json:"order_valid_till,omitempty"`
	CertificateID      int              `json:"certificate_id,omitempty"`
	SerialNumber       string           `json:"serial_number,omitempty"`
	NotBefore          string           `json:"not_before,omitempty"`
	NotAfter           string           `json:"not_after,omitempty"`
	DCVMethod          string           `json:"dcv_method,omitempty"`
	DCVRandomValue     string           `json:"dcv_random_value,omitempty"`
	RenewedOrderID     int              `json:"renewed_order_id,omitempty"`
	RenewalOfOrderID   int              `json:"renewal_of_order_id,omitempty"`
	Reissues           []controlReissue `json:"reissues,omitempty"`
	RevokesPrevious    bool             `json:"revokes_previous,omitempty"`
	Revoke             *controlRevoke   `json:"revoke,omitempty"`
}

// controlReissue is one of an order's reissues, oldest first.
type controlReissue struct {
	CertificateID int      `json:"certificate_id"`
	Status        string   `json:"status"`
	CommonName    string   `json:"common_name"`
	DNSNames      []string `json:"dns_names"`
	Created       string   `json:"created"`
}

// controlRevoke is an order's latest revoke request.
type controlRevoke struct {
	ID       int    `json:"id"`
	Status   string `json:"status"`
	Comments string `json:"comments"`
}

// stamp writes t as RFC 3339 in UTC to the second, "" when zero.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

func nonNil(names []string) []string {
	if names == nil {
		return []string{}
	}
	return names
}

func newControlOrder(o Order) controlOrder {
	c := controlOrder{
		ID: o.ID, Status: o.Status, CommonName: o.CommonName, DNSNames: nonNil(o.DNSNames), SignatureHash: o.SignatureHash,
		Product: o.ProductType, OrganizationID: o.OrganizationID, DisableCT: o.DisableCT, AutoReissue: o.AutoReissue,
		AlternativeOrderID: o.AlternativeOrderID, Created: stamp(o.Created), OrderValidTill: stamp(o.OrderValidTill),
		CertificateID: o.CertificateID, DCVMethod: o.DCVMethod, DCVRandomValue: o.DCVRandomValue,
		RenewedOrderID: o.RenewedOrderID, RenewalOfOrderID: o.RenewalOfOrderID, RevokesPrevious: o.RevokesPrevious,
	}
	if o.CertificatePEM != nil {
		c.SerialNumber, c.NotBefore, c.NotAfter = o.SerialNumber, stamp(o.NotBefore), stamp(o.NotAfter)
	}
	for _, rr := range o.Reissues {
		c.Reissues = append(c.Reissues, controlReissue{CertificateID: rr.CertificateID, Status: rr.Status, CommonName: rr.CommonName,
			DNSNames: nonNil(rr.DNSNames), Created: stamp(rr.Created)})
	}
	if o.Revoke != nil {
		c.Revoke = &controlRevoke{ID: o.Revoke.ID, Status: o.Revoke.Status, Comments: o.Revoke.Comments}
	}
	return c
}

// controlOrderOf returns order id as the control API shows it, or with
// renewal the order that renews it.
func (s *Server) controlOrderOf(id int, renewal bool) controlOrder {
	o, _ := s.Order(id)
	if renewal {
		o, _ = s.Order(o.RenewedOrderID)
	}
	return newControlOrder(o)
}

func (s *Server) controlList() (int, any, *controlError) {
	orders := []controlOrder{}
	for _, o := range s.Orders() {
		orders = append(orders, newControlOrder(o))
	}
	return http.StatusOK, map[string]any{"orders": orders}, nil
}

// controlNewOrder is the body of POST /_fake/orders.
type controlNewOrder struct {
	CommonName     string   `json:"common_name"`
	DNSNames       []string `json:"dns_names"`
	Status         string   `json:"status"`
	Product        string   `json:"product"`
	OrganizationID int      `json:"organization_id"`
	SignatureHash  string   `json:"signature_hash"`
	DisableCT      bool     `json:"disable_ct"`
	AutoReissue    bool     `json:"auto_reissue"`
}

// controlAdd adds an order placed outside certform: status issued,
// product ov and signature hash sha256 unless the body says otherwise, as
// certform's specs default.
func (s *Server) controlAdd(r *http.Request) (int, any, *controlError) {
	body := controlNewOrder{Status: "issued", Product: "ov", SignatureHash: "sha256"}
	if e := decodeControl(r, &body); e != nil {
		return 0, nil, e
	}
	var problems []string
	switch {
	case body.CommonName == "":
		problems = append(problems, "common_name is required")
	case !dnsName.MatchString(body.CommonName):
		problems = append(problems, fmt.Sprintf("common_name %q is not a DNS name", body.CommonName))
	}
	for i, n := range body.DNSNames {
		if !dnsName.MatchString(n) {
			problems = append(problems, fmt.Sprintf("dns_names[%d] %q is not a DNS name", i, n))
		}
	}
	if !knownStatus(body.Status) {
		problems = append(problems, fmt.Sprintf("status %q is not one of %s", body.Status, strings.Join(orderStatuses, ", ")))
	}
	switch body.Product {
	case "ov", "ev", "grid", "private":
	default:
		problems = append(problems, fmt.Sprintf("product %q is not one of ov, ev, grid, private", body.Product))
	}
	switch body.SignatureHash {
	case "sha256", "sha384", "sha512":
	default:
		problems = append(problems, fmt.Sprintf("signature_hash %q is not one of sha256, sha384, sha512", body.SignatureHash))
	}
	if body.OrganizationID < 0 {
		problems = append(problems, fmt.Sprintf("organization_id %d is negative", body.OrganizationID))
	}
	if len(problems) > 0 {
		return 0, nil, ctlErr(http.StatusBadRequest, "%s", strings.Join(problems, "; "))
	}
	id := s.AddOrder(Order{
		Status: body.Status, CommonName: body.CommonName, DNSNames: body.DNSNames, SignatureHash: body.SignatureHash,
		ProductType: body.Product, OrganizationID: body.OrganizationID, DisableCT: body.DisableCT, AutoReissue: body.AutoReissue,
	})
	return http.StatusCreated, s.controlOrderOf(id, false), nil
}

// controlFault is a Fault as the control API takes and shows it. Latency
// is a Go duration ("2s", "500ms"); Times is how many more requests it
// applies to, 0 for every one until cleared.
type controlFault struct {
	Method      string `json:"method,omitempty"`
	Path        string `json:"path,omitempty"`
	Times       int    `json:"times,omitempty"`
	Status      int    `json:"status,omitempty"`
	Code        string `json:"code,omitempty"`
	RetryAfter  string `json:"retry_after,omitempty"`
	DropBefore  bool   `json:"drop_before,omitempty"`
	DropAfter   bool   `json:"drop_after,omitempty"`
	Latency     string `json:"latency,omitempty"`
	Redirect    string `json:"redirect,omitempty"`
	Body        string `json:"body,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Process     bool   `json:"process,omitempty"`
}

func newControlFault(f Fault) controlFault {
	c := controlFault{
		Method: f.Method, Path: f.Path, Times: f.Times, Status: f.Status, Code: f.Code, RetryAfter: f.RetryAfter,
		DropBefore: f.DropBefore, DropAfter: f.DropAfter, Redirect: f.Redirect, Body: f.Body, ContentType: f.ContentType, Process: f.Process,
	}
	if f.Latency > 0 {
		c.Latency = f.Latency.String()
	}
	return c
}

// liveFaults returns the faults not used up, in the order they are
// checked.
func (s *Server) liveFaults() []controlFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []controlFault{}
	for _, f := range s.faults {
		if f.Times >= 0 {
			out = append(out, newControlFault(*f))
		}
	}
	return out
}

var faultMethods = []string{"GET", "POST", "PUT", "DELETE"}

// controlInject checks a fault and injects it. A path may be given below
// the API base (/order/certificate/ssl), as Fault takes it, or whole
// (/services/v2/order/certificate/ssl).
func (s *Server) controlInject(r *http.Request) (int, any, *controlError) {
	var body controlFault
	if e := decodeControl(r, &body); e != nil {
		return 0, nil, e
	}
	f := Fault{
		Method: strings.ToUpper(body.Method), Path: body.Path, Times: body.Times, Status: body.Status, Code: body.Code,
		RetryAfter: body.RetryAfter, DropBefore: body.DropBefore, DropAfter: body.DropAfter, Redirect: body.Redirect,
		Body: body.Body, ContentType: body.ContentType, Process: body.Process,
	}
	var problems []string
	if f.Method != "" && !containsFold(faultMethods, f.Method) {
		problems = append(problems, fmt.Sprintf("method %q is not one of %s", body.Method, strings.Join(faultMethods, ", ")))
	}
	if f.Path != "" {
		if rest, ok := strings.CutPrefix(f.Path, s.BasePath+"/"); ok {
			f.Path = "/" + rest
		}
		if !strings.HasPrefix(f.Path, "/") {
			problems = append(problems, fmt.Sprintf("path %q must start with /, such as /order/certificate/ssl", body.Path))
		}
	}
	if f.Times < 0 {
		problems = append(problems, fmt.Sprintf("times %d is negative; 0 means every request until cleared", f.Times))
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		problems = append(problems, fmt.Sprintf("status %d is not an HTTP status", f.Status))
	}
	if body.Latency != "" {
		d, err := time.ParseDuration(body.Latency)
		if err != nil || d < 0 {
			problems = append(problems, fmt.Sprintf("latency %q is not a duration such as \"2s\" or \"500ms\"", body.Latency))
		}
		f.Latency = d
	}
	if f.Status == 0 && !f.DropBefore && !f.DropAfter && f.Latency <= 0 && f.Redirect == "" && f.Body == "" && !f.Process && len(problems) == 0 {
		problems = append(problems, "the fault does nothing: give status, drop_before, drop_after, latency, redirect, body or process")
	}
	if len(problems) > 0 {
		return 0, nil, ctlErr(http.StatusBadRequest, "%s", strings.Join(problems, "; "))
	}
	s.Inject(f)
	return http.StatusCreated, newControlFault(f), nil
}
