package gateway_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// wantViolation asserts the gateway's validation refusal: InvalidArgument
// whose message starts "invalid request: <field>" and whose BadRequest
// detail names field.
func wantViolation(t *testing.T, err error, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "invalid request: "+field) {
		t.Fatalf("err = %v, want InvalidArgument \"invalid request: %s…\" from the gateway", err, field)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field && v.GetDescription() != "" {
					return
				}
			}
		}
	}
	t.Fatalf("details = %v, want a BadRequest violation of %s", st.Details(), field)
}

func TestValidationGRPC(t *testing.T) {
	h := newHarness(t)
	teller := cred{bearer: h.token("teller-1", roles("teller"))}
	c := h.grpcClient(certNone)
	transfer := func(who cred, req *bankv1.CreateTransferRequest) error {
		_, err := c.CreateTransfer(who.outgoing(timeout(t, callTimeout)), req)
		return err
	}
	ok := &bankv1.CreateTransferRequest{Account: aliceChecking, AmountCents: 100, Currency: "EUR", Beneficiary: &bankv1.Beneficiary{Name: "Bob", Iban: "GB82WEST12345698765432"}}
	if err := transfer(teller, ok); err != nil {
		t.Fatalf("valid CreateTransfer = %v, want OK", err)
	}
	zero := &bankv1.CreateTransferRequest{Account: aliceChecking, AmountCents: 0, Currency: "EUR"}
	// The bank itself would answer InvalidArgument "amount_cents must be
	// positive"; the gateway's message proves the call was not forwarded.
	wantViolation(t, transfer(teller, zero), "amount_cents")
	wantViolation(t, transfer(teller, &bankv1.CreateTransferRequest{Account: aliceChecking, AmountCents: 5, Currency: "eur"}), "currency")

	both := &bankv1.CreateTransferRequest{Account: aliceChecking, AmountCents: -1, Currency: "euro"}
	err := transfer(teller, both)
	wantViolation(t, err, "amount_cents")
	if br := badRequest(err); len(br.GetFieldViolations()) != 2 {
		t.Errorf("violations = %v, want amount_cents and currency", br)
	}

	// A message over the method's size limit (16 KiB) is refused as too
	// large before it is decoded, whatever it holds.
	big := &bankv1.CreateTransferRequest{Account: aliceChecking, AmountCents: 0, Currency: "EUR", Memo: strings.Repeat("m", 20<<10)}
	if st := status.Convert(transfer(teller, big)); st.Code() != codes.ResourceExhausted {
		t.Errorf("CreateTransfer of 20 KiB = %v, want ResourceExhausted before validation", st.Err())
	}

	// Only callers allowed to make the call learn the constraints.
	if code := status.Code(transfer(cred{}, zero)); code != codes.Unauthenticated {
		t.Errorf("anonymous invalid CreateTransfer = %v, want Unauthenticated", code)
	}
	if code := status.Code(transfer(cred{bearer: h.token("audrey", nil)}, zero)); code != codes.PermissionDenied {
		t.Errorf("auditor's invalid CreateTransfer = %v, want PermissionDenied", code)
	}
}

func badRequest(err error) *errdetails.BadRequest {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			return br
		}
	}
	return nil
}

func TestValidationEveryStreamMessage(t *testing.T) {
	h := newHarness(t)
	c := h.grpcClient(certLedger)
	importAll := func(msgs ...*bankv1.ImportTransactionsRequest) (*bankv1.ImportTransactionsResponse, error) {
		s, err := c.ImportTransactions(timeout(t, callTimeout))
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if err := s.Send(m); err != nil {
				if errors.Is(err, io.EOF) {
					break // the status is in CloseAndRecv
				}
				return nil, err
			}
		}
		return s.CloseAndRecv()
	}
	tx := &bankv1.ImportTransactionsRequest{Transaction: &bankv1.Transaction{Account: aliceSavings, AmountCents: 100, Currency: "EUR", Description: "import"}}
	resp, err := importAll(tx, tx)
	if err != nil || resp.GetImported() != 2 {
		t.Fatalf("valid import = %v, %v, want 2 imported", resp, err)
	}
	_, err = importAll(&bankv1.ImportTransactionsRequest{})
	wantViolation(t, err, "transaction")
	// A bad message later in the stream ends the call too.
	_, err = importAll(tx, tx, &bankv1.ImportTransactionsRequest{}, tx)
	wantViolation(t, err, "transaction")
}

func TestValidationREST(t *testing.T) {
	h := newHarness(t)
	teller := cred{bearer: h.token("teller-1", roles("teller"))}
	req := h.restRequest(t, teller, "POST", "/v1/"+aliceChecking+"/transfers", `{"amount_cents":0,"currency":"EUR"}`)
	code, body := h.do(t, req)
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Type       string `json:"@type"`
			Violations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if code != http.StatusBadRequest || st.Code != int(codes.InvalidArgument) || !strings.HasPrefix(st.Message, "invalid request: amount_cents") {
		t.Fatalf("REST invalid transfer = %d %s, want 400 with the gateway's violation", code, body)
	}
	if len(st.Details) != 1 || !strings.HasSuffix(st.Details[0].Type, "google.rpc.BadRequest") || len(st.Details[0].Violations) != 1 || st.Details[0].Violations[0].Field != "amount_cents" {
		t.Errorf("details = %+v, want one BadRequest violation of amount_cents", st.Details)
	}
}

// jsonCodec is a client codec for content-subtype "json" (protojson), the
// way a connect or grpc-java client could speak to a JSON-capable backend.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)   { return protojson.Marshal(v.(proto.Message)) }
func (jsonCodec) Unmarshal(b []byte, v any) error { return protojson.Unmarshal(b, v.(proto.Message)) }
func (jsonCodec) Name() string                    { return "json" }

// TestNonProtobufCodecRefused: a method whose messages the gateway reads
// (validation, decode for authorization) refuses another content-subtype,
// which the gateway would check as protobuf while the backend reads JSON.
func TestNonProtobufCodecRefused(t *testing.T) {
	encoding.RegisterCodec(jsonCodec{})
	h := newHarness(t)
	teller := cred{bearer: h.token("teller-1", roles("teller"))}
	c := h.grpcClient(certNone)
	_, err := c.CreateTransfer(teller.outgoing(timeout(t, callTimeout)),
		&bankv1.CreateTransferRequest{Account: aliceChecking, AmountCents: 5, Currency: "EUR"}, grpc.CallContentSubtype("json"))
	if st := status.Convert(err); st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "protobuf messages only") {
		t.Errorf("CreateTransfer over grpc+json = %v, want the gateway's Unimplemented \"protobuf messages only\"", err)
	}
	// grpc+proto, spelled out, is protobuf.
	_, err = c.CreateTransfer(teller.outgoing(timeout(t, callTimeout)),
		&bankv1.CreateTransferRequest{Account: aliceChecking, AmountCents: 5, Currency: "EUR"}, grpc.CallContentSubtype("proto"))
	if err != nil {
		t.Errorf("CreateTransfer over grpc+proto = %v, want OK", err)
	}
}
