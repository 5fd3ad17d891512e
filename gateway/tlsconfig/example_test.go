package tlsconfig_test

import (
	"fmt"
	"log"
	"os"

	"github.com/portcullis/portcullis/gateway/devcerts"
	"github.com/portcullis/portcullis/gateway/tlsconfig"
)

func ExampleNewServer() {
	dir, err := os.MkdirTemp("", "portcullis-tls")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	files, err := devcerts.Generate(dir)
	if err != nil {
		log.Fatal(err)
	}

	// A REST listener that requires client certificates from the dev CA.
	r, err := tlsconfig.NewServer(tlsconfig.Server{
		CertFile:     files.Server.Cert,
		KeyFile:      files.Server.Key,
		ClientCAFile: files.CA.Cert,
		ClientAuth:   "require",
	}, tlsconfig.WithNextProtos("h2", "http/1.1"))
	if err != nil {
		log.Fatal(err)
	}
	cfg := r.TLSConfig() // pass to tls.Listen, http.Server or credentials.NewTLS
	fmt.Println(cfg.NextProtos, r.Certificate().DNSNames)
	// Output: [h2 http/1.1] [localhost]
}
