package outhookcdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/outhook/outhook/shared/config"
)

// stageAssets builds one directory per function holding its bootstrap from buildDir and the config as written
// (each function resolves it when it starts) as webhooks.json, and returns the directories. They live in the cloud assembly's output directory (cdk.out),
// next to the assets CDK copies from them, so a synth leaves nothing behind elsewhere.
func stageAssets(c constructs.Construct, buildDir string, cfg *config.Config) (map[Function]string, error) {
	configJSON, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("outhook config: encode: %w", err)
	}
	root := filepath.Join(*awscdk.Stage_Of(c).AssetOutdir(), "outhook-staging", *c.Node().Addr())
	dirs := make(map[Function]string, len(Functions))
	for _, f := range Functions {
		dir := filepath.Join(root, string(f))
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("stage %s: %w", f, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("stage %s: %w", f, err)
		}
		src := filepath.Join(buildDir, string(f), "bootstrap")
		if err := copyExecutable(src, filepath.Join(dir, "bootstrap")); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("stage %s: %s is missing: run `make lambdas` first: %w", f, src, err)
			}
			return nil, fmt.Errorf("stage %s: %w", f, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "webhooks.json"), configJSON, 0o644); err != nil {
			return nil, fmt.Errorf("stage %s: write config: %w", f, err)
		}
		dirs[f] = dir
	}
	return dirs, nil
}

func copyExecutable(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open bootstrap: %w", err)
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return fmt.Errorf("stat bootstrap: %w", err)
	}
	if info.IsDir() {
		return fmt.Errorf("bootstrap %s is a directory", src)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("create bootstrap copy: %w", err)
	}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close bootstrap copy: %w", cerr)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy bootstrap: %w", err)
	}
	return nil
}
