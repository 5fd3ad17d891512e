package bank_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/portcullis/portcullis/examples/bank"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

func ExampleNew() {
	s := bank.New()
	defer s.Close()

	resp, err := s.ListAccounts(context.Background(), &bankv1.ListAccountsRequest{})
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range resp.GetAccounts() {
		fmt.Println(a.GetName(), a.GetCustomer(), a.GetBalanceCents(), a.GetCurrency())
	}
	// Output:
	// accounts/alice-checking customers/alice 250000 EUR
	// accounts/alice-savings customers/alice 1200000 EUR
	// accounts/bob-checking customers/bob 75000 GBP
}

func ExampleNewGRPCServer() {
	s := bank.New()
	defer s.Close()
	lis := bufconn.Listen(1 << 20)
	gs := bank.NewGRPCServer(s)
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()

	conn, err := grpc.NewClient("passthrough:///bank",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := bankv1.NewBankServiceClient(conn)

	ctx := metadata.AppendToOutgoingContext(context.Background(), bank.EchoHeaderKey, "hello")
	var header metadata.MD
	resp, err := client.CreateTransfer(ctx, &bankv1.CreateTransferRequest{
		Account:     "accounts/alice-checking",
		Beneficiary: &bankv1.Beneficiary{Name: "Bob Jones", Iban: "GB82WEST12345698765432"},
		AmountCents: 1500,
		Currency:    "EUR",
		RequestId:   "3f1c2d9e",
	}, grpc.Header(&header))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetTransfer().GetName(), resp.GetTransfer().GetState())
	fmt.Println(bank.EchoHeaderKey, header.Get(bank.EchoHeaderKey))
	// Output:
	// accounts/alice-checking/transfers/1 booked
	// x-echo-header [hello]
}
