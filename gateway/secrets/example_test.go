package secrets_test

import (
	"context"
	"fmt"
	"os"

	"github.com/portcullis/portcullis/gateway/secrets"
)

func ExampleCheckLiteral() {
	for _, v := range []string{"env:REDIS_PASSWORD", "vault:secret/portcullis/redis#password", "hunter2"} {
		fmt.Println(secrets.CheckLiteral("redis.password", v))
	}
	// Output:
	// <nil>
	// <nil>
	// redis.password: a literal secret is not allowed; use env:NAME, file:PATH or vault:PATH#FIELD
}

func ExampleResolver_Resolve() {
	os.Setenv("EXAMPLE_REDIS_PASSWORD", "hunter2")
	defer os.Unsetenv("EXAMPLE_REDIS_PASSWORD")

	r, err := secrets.New(secrets.Config{})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	pw, err := r.Resolve(context.Background(), "env:EXAMPLE_REDIS_PASSWORD")
	if err != nil {
		panic(err)
	}
	fmt.Println(pw.Ref(), pw)             // printing never shows it
	fmt.Println(len(pw.Value()), "bytes") // Value is the only way to it
	// Output:
	// env:EXAMPLE_REDIS_PASSWORD [secret]
	// 7 bytes
}
