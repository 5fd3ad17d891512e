package config_test

import (
	"fmt"

	"github.com/portcullis/portcullis/gateway/config"
)

func ExampleParse() {
	_, err := config.Parse("gateway.yaml", []byte(`listeners:
  grpc:
    adress: 0.0.0.0:8443
routes:
  - service: bank.v1.Accounts
    backend: 127.0.0.1:9000
    plaintext: true
    connect_timeout: 5 sec
`))
	fmt.Println(err)
	// Output:
	// config: gateway.yaml:3: listeners.grpc.adress: unknown field (did you mean "address"?)
	// config: gateway.yaml:8: routes[0].connect_timeout: invalid duration "5 sec"
}
