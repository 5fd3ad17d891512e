package rest

// Option configures the REST front.
type Option func(*options)

type options struct {
	maxBodyBytes int64
}

func defaultOptions() options { return options{maxBodyBytes: 4 << 20} }

// WithMaxBodyBytes caps request bodies; larger bodies fail with 400 before
// they are decoded. Default 4 MiB; 0 disables the cap.
func WithMaxBodyBytes(n int64) Option { return func(o *options) { o.maxBodyBytes = n } }
