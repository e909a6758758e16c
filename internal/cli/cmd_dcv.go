package cli

import (
	"fmt"
	"github.com/certform/certform/internal/fsx"
	"github.com/spf13/pflag"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/certform/certform/dcv"
	"github.com/certform/certform/reconcile"
)

// dcvFlags are the domain validation flags of plan, apply, run and
// validate: the server's DCV config (never the spec directory's) and its
// timing.
type dcvFlags struct {
	config             string
	revalidateBefore   time.Duration
	propagationTimeout time.Duration
}

func (f *dcvFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.config, "dcv-config", "", "DCV config (YAML: providers and the zones they serve) with which certform publishes domain validation records itself; also $CERTFORM_DCV_CONFIG; off when empty")
	fs.DurationVar(&f.revalidateBefore, "dcv-revalidate-before", reconcile.DefaultRevalidateBefore, "revalidate an account domain a spec uses once its validation ends within this long (needs --dcv-config; 0: never, and GET /domain is not read)")
	fs.DurationVar(&f.propagationTimeout, "dcv-propagation-timeout", dcv.DefaultPropagationTimeout, "wait at most this long for every authoritative name server to answer a published record")
}

// credentialName is the DCV config's name as a systemd credential:
// certform.service loads /etc/certform/dcv.yaml as it, since its dynamic
// user cannot read /etc/certform.
const credentialName = "dcv.yaml"

// path returns --dcv-config, else $CERTFORM_DCV_CONFIG, else
// $CREDENTIALS_DIRECTORY/dcv.yaml when that file exists (the unit's
// LoadCredential=-dcv.yaml:/etc/certform/dcv.yaml); "" for none.
func (f *dcvFlags) path() string {
	if f.config != "" {
		return f.config
	}
	if p := os.Getenv("CERTFORM_DCV_CONFIG"); p != "" {
		return p
	}
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		p := filepath.Join(dir, credentialName)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// load reads the config; nil without one.
func (f *dcvFlags) load() (*reconcile.Validation, error) {
	if f.revalidateBefore < 0 || f.propagationTimeout <= 0 {
		return nil, fmt.Errorf("--dcv-propagation-timeout must be positive, --dcv-revalidate-before not negative")
	}
	path := f.path()
	if path == "" {
		return nil, nil
	}
	cfg, err := dcv.Load(path)
	if err != nil {
		return nil, err
	}
	before := f.revalidateBefore
	if before == 0 {
		before = -1 // off: the account's domains are not read
	}
	return &reconcile.Validation{Config: cfg, RevalidateBefore: before, PropagationTimeout: f.propagationTimeout}, nil
}

// apply loads the config and sets it on r. A config inside the spec
// directory is refused: whoever can commit a spec must not be able to name
// a command or a credential.
func (f *dcvFlags) apply(r *reconcile.Reconciler) error {
	if p := f.path(); p != "" && r.Dir != "" {
		if abs, err := filepath.Abs(p); err == nil && fsx.Inside(abs, r.Dir) {
			return fmt.Errorf("the DCV config %s is inside the spec directory %s: whoever can commit a spec could name a command or a credential\nhint: keep it on the server, such as /etc/certform/dcv.yaml", p, r.Dir)
		}
	}
	v, err := f.load()
	if err != nil {
		return err
	}
	r.DCV = v
	return nil
}

// validateDCV checks the DCV config for certform validate: unknown keys,
// missing secrets, zones without a provider, a file others may read.
func validateDCV(stdout, stderr io.Writer, f *dcvFlags) int {
	v, err := f.load()
	if err != nil {
		fmt.Fprintf(stderr, "certform validate: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "%s: %d providers, %d zones: valid\n", v.Config.Path, len(v.Config.Providers), len(v.Config.Zones))
	return exitOK
}
