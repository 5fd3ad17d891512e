package bank

import (
	"time"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// seedEpoch is when the seeded history starts: 2026-01-02 09:00 UTC.
var seedEpoch = time.Date(2026, time.January, 2, 9, 0, 0, 0, time.UTC)

// seedAccount is one seeded account and its history, oldest first. The
// balance is the sum of the history, so Reconcile reports balanced.
type seedAccount struct {
	account *bankv1.Account
	history []seedTx
}

type seedTx struct {
	amount      int64
	description string
	iban        string
	hours       int // after seedEpoch
}

// The IBANs are the well-known documentation examples of each country.
const (
	ibanAliceChecking = "DE89370400440532013000"
	ibanAliceSavings  = "DE02120300000000202051"
	ibanBobChecking   = "GB82WEST12345698765432"
	ibanEmployer      = "DE75512108001245126199"
	ibanLandlord      = "DE02100500000054540402"
	ibanUtility       = "GB33BUKB20201555555555"
)

func seedCustomers() []string {
	return []string{"customers/alice", "customers/bob"}
}

func seedAccounts() []seedAccount {
	return []seedAccount{
		{
			account: &bankv1.Account{
				Name:         "accounts/alice-checking",
				Customer:     "customers/alice",
				DisplayName:  "Alice Martin (checking)",
				BalanceCents: 250000,
				Currency:     "EUR",
				Iban:         ibanAliceChecking,
				State:        stateOpen,
			},
			history: []seedTx{
				{amount: 300000, description: "Salary ACME GmbH", iban: ibanEmployer, hours: 0},
				{amount: -35000, description: "Rent January", iban: ibanLandlord, hours: 2},
				{amount: -12000, description: "Groceries", hours: 26},
				{amount: -3000, description: "Coffee", hours: 50},
			},
		},
		{
			account: &bankv1.Account{
				Name:         "accounts/alice-savings",
				Customer:     "customers/alice",
				DisplayName:  "Alice Martin (savings)",
				BalanceCents: 1200000,
				Currency:     "EUR",
				Iban:         ibanAliceSavings,
				State:        stateOpen,
			},
			history: []seedTx{
				{amount: 1000000, description: "Opening deposit", iban: ibanAliceChecking, hours: 1},
				{amount: 200000, description: "Standing order from checking", iban: ibanAliceChecking, hours: 3},
			},
		},
		{
			account: &bankv1.Account{
				Name:         "accounts/bob-checking",
				Customer:     "customers/bob",
				DisplayName:  "Bob Jones (current account)",
				BalanceCents: 75000,
				Currency:     "GBP",
				Iban:         ibanBobChecking,
				State:        stateOpen,
			},
			history: []seedTx{
				{amount: 90000, description: "Salary Widgets Ltd", hours: 4},
				{amount: -15000, description: "Electricity", iban: ibanUtility, hours: 28},
			},
		},
	}
}

func hours(h int) time.Duration { return time.Duration(h) * time.Hour }
