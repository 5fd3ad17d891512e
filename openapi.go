// Package portcullis holds files generated at build time that the binary
// embeds. The gateway itself lives in package gateway.
package portcullis

import _ "embed"

// OpenAPI is the OpenAPI v2 document protoc-gen-openapiv2 generated for
// every service in proto/ (gen/openapi/portcullis.swagger.json). The
// gateway serves it at /openapi.json on its HTTP listener.
//
//go:embed gen/openapi/portcullis.swagger.json
var OpenAPI []byte

// Catalog is the JSON permission catalog protoc-gen-portcullis generated
// (gen/permissions.json).
//
//go:embed gen/permissions.json
var Catalog []byte
