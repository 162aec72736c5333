package deploy

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tagbridge/tagbridge/config"
	_ "github.com/tagbridge/tagbridge/drivers/all"
	"github.com/tagbridge/tagbridge/internal/gateway"
)

// unit is a parsed systemd unit: section -> key -> values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l[1 : len(l)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, l)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func TestUnitHasRequiredSettings(t *testing.T) {
	t.Parallel()
	u := parseUnit(t, "tagbridge.service")
	tests := []struct {
		section, key, want string
	}{
		{"Unit", "After", "network-online.target"},
		{"Service", "User", "tagbridge"},
		{"Service", "Group", "tagbridge"},
		{"Service", "SupplementaryGroups", "dialout"},
		{"Service", "ExecStart", "/usr/local/bin/tagbridge run --config /etc/tagbridge/tagbridge.yaml"},
		{"Service", "ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service", "Restart", "on-failure"},
		{"Service", "RestartPreventExitStatus", "1"},
		{"Service", "WorkingDirectory", "/var/lib/tagbridge"},
		{"Service", "StateDirectory", "tagbridge"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ReadWritePaths", "/var/lib/tagbridge"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "ProtectKernelTunables", "yes"},
		{"Service", "ProtectKernelModules", "yes"},
		{"Service", "ProtectKernelLogs", "yes"},
		{"Service", "ProtectControlGroups", "yes"},
		{"Service", "RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"Service", "CapabilityBoundingSet", ""},
		{"Service", "AmbientCapabilities", ""},
		{"Service", "DevicePolicy", "closed"},
		{"Service", "DeviceAllow", "char-ttyS rw"},
		{"Service", "DeviceAllow", "char-ttyUSB rw"},
		{"Service", "DeviceAllow", "char-ttyACM rw"},
		{"Install", "WantedBy", "multi-user.target"},
	}
	for _, tt := range tests {
		vals, ok := u[tt.section][tt.key]
		found := false
		for _, v := range vals {
			found = found || v == tt.want
		}
		if !ok || !found {
			t.Errorf("[%s] %s=%q missing (have %q)", tt.section, tt.key, tt.want, vals)
		}
	}
	if v := u["Service"]["RestartSec"]; len(v) != 1 || v[0] == "" {
		t.Errorf("[Service] RestartSec must be set once, have %q", v)
	}
	// A setting in the wrong section is silently ignored by systemd.
	for _, k := range []string{"StartLimitIntervalSec", "StartLimitBurst"} {
		if _, ok := u["Service"][k]; ok {
			t.Errorf("%s belongs in [Unit], not [Service]", k)
		}
	}
}

// TestUnitVerifies runs systemd-analyze verify when it is installed, on a
// copy whose binary path exists on the build machine.
func TestUnitVerifies(t *testing.T) {
	t.Parallel()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	data, err := os.ReadFile("tagbridge.service")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "tagbridge.service")
	text := strings.ReplaceAll(string(data), "/usr/local/bin/tagbridge", "/bin/true")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestExampleConfigValidates(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("tagbridge.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if errs := gateway.Validate(context.Background(), cfg); len(errs) > 0 {
		t.Fatalf("tagbridge.example.yaml: %v", errs)
	}
	if cfg.OPCUA.PKI != "/var/lib/tagbridge/pki" {
		t.Errorf("pki %q: install.ps1 rewrites the line 'pki: /var/lib/tagbridge/pki'", cfg.OPCUA.PKI)
	}
	if cfg.Metrics.Listen == "" {
		t.Error("the example config must enable metrics (/readyz for monitoring)")
	}
}

func TestInstallScriptStagesFilesIdempotently(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("POSIX shell script")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	if out, err := exec.Command(sh, "-n", "install.sh").CombinedOutput(); err != nil {
		t.Fatalf("sh -n install.sh: %v\n%s", err, out)
	}
	tmp := t.TempDir()
	fake := filepath.Join(tmp, "tagbridge")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho tagbridge 9.9.9-test\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(tmp, "root")
	run := func() string {
		cmd := exec.Command(sh, "install.sh", fake)
		cmd.Env = append(os.Environ(), "DESTDIR="+dest)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("install.sh: %v\n%s", err, out)
		}
		return string(out)
	}
	run()
	for path, mode := range map[string]os.FileMode{
		"usr/local/bin/tagbridge":                  0o755,
		"etc/tagbridge/tagbridge.yaml":             0o640,
		"etc/systemd/system/tagbridge.service":     0o644,
		"usr/local/share/doc/tagbridge/install.md": 0o644,
		"etc/tagbridge":                            0o750 | os.ModeDir,
		"var/lib/tagbridge/pki":                    0o750 | os.ModeDir,
	} {
		fi, err := os.Stat(filepath.Join(dest, path))
		if err != nil {
			t.Errorf("%s not installed: %v", path, err)
			continue
		}
		if fi.Mode()&(os.ModePerm|os.ModeDir) != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
		}
	}

	// An upgrade keeps the operator's config and replaces the binary.
	cfgPath := filepath.Join(dest, "etc/tagbridge/tagbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte("# edited by the operator\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho tagbridge 10.0.0-test\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := run()
	if got, _ := os.ReadFile(cfgPath); string(got) != "# edited by the operator\n" {
		t.Errorf("upgrade overwrote the config: %q", got)
	}
	if !strings.Contains(out, "10.0.0-test") {
		t.Errorf("upgrade did not install the new binary:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dest, "usr/local/bin/tagbridge.new")); !os.IsNotExist(err) {
		t.Errorf("temporary tagbridge.new left behind: %v", err)
	}

	// A missing binary fails before anything changes.
	cmd := exec.Command(sh, "install.sh", filepath.Join(tmp, "nope"))
	cmd.Env = append(os.Environ(), "DESTDIR="+filepath.Join(tmp, "other"))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not found") {
		t.Errorf("missing binary: err %v, output %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(tmp, "other")); !os.IsNotExist(err) {
		t.Errorf("a failed install created files: %v", err)
	}
}

func TestWindowsInstallerStatically(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("windows", "install.ps1"))
	if err != nil {
		t.Fatal(err)
	}
	ps := string(data)
	for _, want := range []string{
		"#Requires -RunAsAdministrator",
		"$ErrorActionPreference = 'Stop'",
		`run --config`,
		"New-Service",
		"start= delayed-auto",
		"sc.exe failure",
		"failureflag $ServiceName 1",
		`System32\EventCreate.exe`,
		"pki: /var/lib/tagbridge/pki", // the line of the example config it rewrites
		`..\tagbridge.example.yaml`,
		"[switch]$Uninstall",
	} {
		if !strings.Contains(ps, want) {
			t.Errorf("install.ps1 lacks %q", want)
		}
	}
	if strings.Count(ps, "{") != strings.Count(ps, "}") || strings.Count(ps, "(") != strings.Count(ps, ")") {
		t.Error("install.ps1: unbalanced braces or parentheses")
	}
	if pwsh, err := exec.LookPath("pwsh"); err == nil {
		// Parse only: never run the installer on the build machine.
		script := `$e=$null; [void][System.Management.Automation.Language.Parser]::ParseFile('windows/install.ps1',[ref]$null,[ref]$e); if ($e.Count) { $e; exit 1 }`
		if out, err := exec.Command(pwsh, "-NoProfile", "-Command", script).CombinedOutput(); err != nil {
			t.Errorf("install.ps1 does not parse: %v\n%s", err, out)
		}
	}
}
