package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const schemaFile = "../schema/spec.json"

// TestSchema_file: schema/spec.json is what Schema generates (go test
// ./spec -run TestSchema_file -update rewrites it).
func TestSchema_file(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what certform schema prints: run go test ./spec -run TestSchema_file -update", schemaFile)
	}
	var s struct {
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Properties) != len(keys) {
		t.Errorf("%d properties, %d spec keys", len(s.Properties), len(keys))
	}
}

// TestSchema_everyKeyDescribed: every key of the field table has its
// description, and the table is sorted by key with no key twice.
func TestSchema_everyKeyDescribed(t *testing.T) {
	for i, f := range fieldTable {
		if f.desc == "" {
			t.Errorf("spec key %s has no description in fieldTable (fields.go): add its enum, range and description", f.key)
		}
		if i > 0 && fieldTable[i-1].key >= f.key {
			t.Errorf("fieldTable: %s after %s; keep the table sorted, each key once", f.key, fieldTable[i-1].key)
		}
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // as an editor checks them (additional_emails' email)
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlDocs decodes every document of a YAML file into JSON values, as an
// editor's YAML language server sees them.
func yamlDocs(t *testing.T, path string) []any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil // not YAML: the loader's syntax error, not the schema's
		}
		if v == nil {
			continue
		}
		// Through JSON: the form the validator takes (numbers, maps with
		// string keys).
		raw, err := json.Marshal(jsonable(v))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	return docs
}

func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := map[string]any{}
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	}
	return v
}

func yamlFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if !d.IsDir() && IsSpecFile(filepath.ToSlash(rel)) && !strings.Contains(p, "oversized") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// TestSchema_examples: every document of every example passes the
// schema, and every example names it in its yaml-language-server line.
func TestSchema_examples(t *testing.T) {
	s := compileSchema(t)
	var files []string
	for _, f := range yamlFiles(t, "../examples") {
		if !strings.HasPrefix(f, filepath.Join("..", "examples", "ci")+string(filepath.Separator)) { // .certformignore: CI pipelines, not specs
			files = append(files, f)
		}
	}
	if len(files) < 5 {
		t.Fatalf("examples: %v", files)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		rel, _ := filepath.Rel(filepath.Dir(f), schemaFile)
		if line := "# yaml-language-server: $schema=" + filepath.ToSlash(rel) + "\n"; !bytes.HasPrefix(data, []byte(line)) {
			t.Errorf("%s does not start with %q", f, line)
		}
		for i, doc := range yamlDocs(t, f) {
			if err := s.Validate(doc); err != nil {
				t.Errorf("%s document %d: %v", f, i+1, err)
			}
		}
	}
}

// schemaReasons are the loader's errors that the schema must catch too: a
// wrong type, a value outside an enum or a range, an unknown key, a
// spec-only key in defaults.yaml.
var schemaReasons = regexp.MustCompile(`: (must be (a string|an integer|true or false|a list of strings)|unknown key|"[^"]*" is not allowed; use one of|-?\d+ is out of range|cannot be set in defaults\.yaml|-?\d+ is not an? (organization|container|server platform|order) id)`)

// TestSchema_badCorpus: every file of the bad-input corpus that the loader
// rejects for a type, enum, range or unknown-key reason fails the schema.
func TestSchema_badCorpus(t *testing.T) {
	s := compileSchema(t)
	root := filepath.Join("..", "testdata", "specs", "bad")
	res, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string][]string{}
	for _, e := range res.Errors {
		if schemaReasons.MatchString(e.Error()) {
			reasons[e.File] = append(reasons[e.File], e.Error())
		}
	}
	if len(reasons) < 4 {
		t.Fatalf("only %d files with schema reasons: %v", len(reasons), reasons)
	}
	for file, why := range reasons {
		failed := false
		for _, doc := range yamlDocs(t, filepath.Join(root, filepath.FromSlash(file))) {
			if s.Validate(doc) != nil {
				failed = true
			}
		}
		if !failed {
			t.Errorf("%s passes the schema, but the loader says:\n%s", file, strings.Join(why, "\n"))
		}
	}
}
