package rest

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/portcullis/portcullis/policy"
)

// Strict requests. grpc-gateway ignores query parameters that name no
// field, and every query parameter of a route whose body is "*"; it decodes
// any Content-Type as JSON. The front refuses all three, so that what a
// client (or a proxy, a WAF, a log) reads in a request is what the backend
// acts on:
//
//   - a query parameter that names no field of the request message, or a
//     field bound by the path or the body: 400 "unknown query parameter" /
//     "query parameter … sets a field bound by the path or the body";
//   - any query parameter on a route whose body is "*": 400;
//   - a request body whose Content-Type is not application/json (charset
//     parameters allowed): 415.

// route is what the front knows of one HTTP binding.
type route struct {
	req  protoreflect.MessageDescriptor
	body string // the binding's body: "", "*" or a field name
}

// routeKey is the HTTP method and the path template in the canonical form
// runtime.Pattern.String prints ("{name}" becomes "{name=*}").
func routeKey(method, template string) string {
	return method + " " + bareVariable.ReplaceAllString(template, "{$1=*}")
}

var bareVariable = regexp.MustCompile(`\{([^}=]+)\}`)

// routesOf reads the google.api.http bindings of the services' methods from
// their compiled descriptors.
func routesOf(services []policy.Service) (map[string]route, error) {
	out := map[string]route{}
	for _, s := range services {
		if !s.HTTP {
			continue
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(s.Name))
		if err != nil {
			return nil, fmt.Errorf("rest: service %s: %w", s.Name, err)
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return nil, fmt.Errorf("rest: %s is not a service", s.Name)
		}
		for i := 0; i < sd.Methods().Len(); i++ {
			md := sd.Methods().Get(i)
			rule, ok := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
			if !ok || rule == nil {
				continue
			}
			for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				method, template := binding(r)
				if template != "" {
					out[routeKey(method, template)] = route{req: md.Input(), body: r.GetBody()}
				}
			}
		}
	}
	return out, nil
}

func binding(r *annotations.HttpRule) (method, template string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "", ""
}

// strictQuery returns the grpc-gateway middleware that refuses query
// parameters the route does not take. It runs after routing, with the
// matched pattern and the path parameters.
func strictQuery(routes map[string]route) runtime.Middleware {
	return func(next runtime.HandlerFunc) runtime.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
			if r.URL.RawQuery == "" {
				next(w, r, pathParams)
				return
			}
			pat, _ := runtime.HTTPPattern(r.Context())
			rt, known := routes[r.Method+" "+pat.String()]
			if !known { // fail closed: a binding we could not read takes no query
				rt = route{body: "*"}
			}
			if err := rt.checkQuery(r.URL.RawQuery, pathParams); err != nil {
				errorHandler(r.Context(), errorMux, errorMarshaler, w, r, err)
				return
			}
			next(w, r, pathParams)
		}
	}
}

// mapKey matches grpc-gateway's map syntax, "field[key]".
var mapKey = regexp.MustCompile(`^(.*)\[(.*)\]$`)

func (rt route) checkQuery(raw string, pathParams map[string]string) error {
	if rt.body == "*" {
		return status.Error(codes.InvalidArgument, "this method takes no query parameters: the body carries the whole request")
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return nil //nolint:nilerr // malformed: grpc-gateway parses the query itself and answers 400
	}
	for key := range values {
		field := key
		if m := mapKey.FindStringSubmatch(key); m != nil {
			field = m[1]
		}
		names, ok := fieldPath(rt.req, strings.Split(field, "."))
		switch {
		case !ok:
			return status.Errorf(codes.InvalidArgument, "unknown query parameter %q", key)
		case rt.body != "" && names[0] == rt.body, bound(pathParams, names):
			return status.Errorf(codes.InvalidArgument, "query parameter %q sets a field bound by the path or the body", key)
		}
	}
	return nil
}

// fieldPath resolves a query key's segments (proto or JSON names) to proto
// field names, as grpc-gateway does: every segment but the last must be a
// singular message field.
func fieldPath(md protoreflect.MessageDescriptor, segs []string) ([]string, bool) {
	names := make([]string, 0, len(segs))
	for i, s := range segs {
		fd := md.Fields().ByTextName(s)
		if fd == nil {
			fd = md.Fields().ByJSONName(s)
		}
		if fd == nil {
			return nil, false
		}
		names = append(names, string(fd.Name()))
		if i == len(segs)-1 {
			break
		}
		if fd.Message() == nil || fd.Cardinality() == protoreflect.Repeated || fd.IsMap() {
			return nil, false
		}
		md = fd.Message()
	}
	return names, true
}

// bound reports whether names is, contains or lies inside a path parameter.
func bound(pathParams map[string]string, names []string) bool {
	key := strings.Join(names, ".")
	for p := range pathParams {
		if p == key || strings.HasPrefix(p, key+".") || strings.HasPrefix(key, p+".") {
			return true
		}
	}
	return false
}

// jsonBody reports whether r carries no body or a JSON one.
func jsonBody(r *http.Request) bool {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
