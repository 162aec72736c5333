package service

// Option tunes Run.
type Option func(*options)

type options struct {
	reload func()
}

// WithReload makes the service accept the SCM's ParamChange control
// (`sc.exe control Tagbridge paramchange`) and call reload for it: the
// Windows equivalent of SIGHUP. reload is called from the service control
// goroutine and must not block for long.
func WithReload(reload func()) Option {
	return func(o *options) { o.reload = reload }
}

func buildOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}
