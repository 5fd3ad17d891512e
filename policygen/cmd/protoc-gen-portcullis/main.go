// Command protoc-gen-portcullis is the protoc/buf plugin that turns
// Portcullis policy options into Go policy tables. See package policygen.
package main

import (
	"flag"
	"fmt"
	"os"

	"google.golang.org/protobuf/compiler/protogen"

	"github.com/portcullis/portcullis/policygen"
)

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println("protoc-gen-portcullis", policygen.Version)
		return
	}
	var flags flag.FlagSet
	var params policygen.Params
	params.RegisterFlags(&flags)
	protogen.Options{ParamFunc: flags.Set}.Run(func(gen *protogen.Plugin) error {
		return policygen.Generate(gen, params)
	})
}
