// vcsim for Lifeboat's tests: govmomi's vCenter simulator (a VPX model) on a loopback port,
// with TLS. Prints one JSON line with its URL and datastore folders, then serves until stdin
// closes or a signal arrives, and removes its datastore folders on the way out.
//
// A NAS datastore's local path is resolved in this process's working folder (the caller picks
// it). Where vcsim differs from ESXi in a way Lifeboat depends on, this harness makes it behave
// like ESXi: see esxiRegisterFiles.
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"regexp"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	hosts := flag.Int("hosts", 2, "standalone hosts")
	datastores := flag.Int("datastores", 2, "datastores (each a local folder)")
	user := flag.String("user", "lifeboat", "the one user name vcsim accepts")
	password := flag.String("password", "restore-drill", "and its password")
	flag.Parse()

	model := simulator.VPX()
	model.Host = *hosts
	model.ClusterHost = 2
	model.Datastore = *datastores
	model.Machine = 1
	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim:", err)
		os.Exit(1)
	}
	defer model.Remove()

	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *password)}
	model.Service.TLS = new(tls.Config)
	server := model.Service.NewServer()
	defer server.Close()
	// http.Server reads its Handler per request; no request has been served yet.
	server.Server.Config.Handler = esxiRegisterFiles(server.Server.Config.Handler)

	folders := map[string]string{}
	for _, ref := range simulator.Map.All("Datastore") {
		ds := ref.(*simulator.Datastore)
		folders[ds.Name] = ds.Info.GetDatastoreInfo().Url
	}
	line, _ := json.Marshal(map[string]interface{}{"url": server.URL.String(), "datastores": folders})
	fmt.Println(string(line))

	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-done:
	case <-signals:
	}
}

var (
	registerCall = regexp.MustCompile(`<RegisterVM_Task[\s>]`)
	registerPath = regexp.MustCompile(`<path>\[([^\]]+)\] ?([^<]*)</path>`)
	registerName = regexp.MustCompile(`<name>([^<]*)</name>`)
)

// esxiRegisterFiles: vcsim's RegisterVM opens the VM's .nvram and vmware.log and fails when they
// are missing; ESXi creates both itself. For a VM registered from an NFS datastore, this makes
// them (empty) first, as the host would, so Lifeboat's calls are the ones it makes to ESXi.
func esxiRegisterFiles(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Body != nil {
			body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
			if err == nil && registerCall.Match(body) {
				makeRegisterFiles(body)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

func makeRegisterFiles(body []byte) {
	where := registerPath.FindSubmatch(body)
	name := registerName.FindSubmatch(body)
	if where == nil || name == nil {
		return
	}
	for _, ref := range simulator.Map.All("Datastore") {
		ds := ref.(*simulator.Datastore)
		if ds.Name != string(where[1]) || ds.Summary.Type != "NFS" {
			continue
		}
		folder := path.Dir(path.Join(ds.Info.GetDatastoreInfo().Url, string(where[2])))
		for _, file := range []string{string(name[1]) + ".nvram", "vmware.log"} {
			target := path.Join(folder, file)
			if _, err := os.Stat(target); os.IsNotExist(err) {
				_ = os.WriteFile(target, nil, 0o644)
			}
		}
	}
}
