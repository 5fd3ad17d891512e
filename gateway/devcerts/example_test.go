package devcerts_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/portcullis/portcullis/gateway/devcerts"
)

func ExampleGenerate() {
	dir, err := os.MkdirTemp("", "portcullis-pki")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	files, err := devcerts.Generate(filepath.Join(dir, "certs"), devcerts.WithClients("user/teller"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(files.Server.Cert), filepath.Base(files.Server.Key))
	fmt.Println(filepath.Base(files.Clients["user/teller"].Cert), devcerts.SPIFFEID("user/teller"))
	// Output:
	// server.pem server-key.pem
	// client-teller.pem spiffe://portcullis.local/user/teller
}
