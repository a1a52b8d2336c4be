// vcsim for Lifeboat's tests: govmomi's vCenter simulator (a VPX model) on a loopback port,
// with TLS. Prints one JSON line with its URL and datastore folders, then serves until stdin
// closes or a signal arrives, and removes its datastore folders on the way out.
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
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
