package server

import (
	"fmt"
	"io"
	"strings"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/tlsfiles"
)

// startInfo is what start-up tells the operator.
type startInfo struct {
	cfg               config.Serve
	org               Org
	orgGenerated      bool
	tls               *tlsfiles.Material
	brokers           []string
	embedded          bool
	httpURL           string
	httpTLS           *tlsfiles.Material // nil: plain HTTP
	inbound, outbound string
	inboundNodes      []string
	outboundNodes     []string
	demo              registry.Project
}

func (i startInfo) print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	if i.embedded {
		p("backend:        embedded single-node log in %s/kafka, listening on %s (loopback only)", i.cfg.DataDir, strings.Join(i.brokers, ","))
	} else {
		p("backend:        Kafka cluster at %s", strings.Join(i.brokers, ","))
	}
	p("HTTP API:       %s", i.httpURL)
	if i.httpTLS != nil && i.httpTLS != i.tls {
		p("HTTP TLS:       certificate %s", i.httpTLS.CertFile)
	}
	p("Kafka Inbound:  %s (SASL_SSL, PLAIN); backend brokers: %s", i.inbound, strings.Join(i.inboundNodes, ", "))
	p("Kafka Outbound: %s (SASL_SSL, PLAIN); backend brokers: %s", i.outbound, strings.Join(i.outboundNodes, ", "))
	if i.tls.CAFile != "" {
		p("TLS CA:         %s (clients trust this file)", i.tls.CAFile)
	} else {
		p("TLS:            certificate %s", i.tls.CertFile)
	}
	if i.orgGenerated {
		p("organization:   id %s key %s (kept in %s)", i.org.ID, i.org.Key, OrgFile(i.cfg.DataDir))
	} else {
		p("organization:   id %s (key from --org-key)", i.org.ID)
	}
	if i.demo.ID != "" {
		i.printDemo(w)
	}
}

// printDemo prints copy-ready commands for the demo project.
func (i startInfo) printDemo(w io.Writer) {
	d := i.demo
	ca := i.tls.CAFile
	jaas := func(key string) string {
		return fmt.Sprintf(`'org.apache.kafka.common.security.plain.PlainLoginModule required username="%s" password="%s";'`, d.ID, key)
	}
	fmt.Fprintf(w, `
demo project:   %[1]s
  master key    %[2]s
  write key     %[3]s
  read key      %[4]s

Produce with the Kafka console producer (Kafka 4.x tools; scripts/kafka.sh fetch gets them):
  kafka-console-producer.sh --bootstrap-server %[5]s --topic purchases \
    --producer-property security.protocol=SASL_SSL --producer-property sasl.mechanism=PLAIN \
    --producer-property ssl.truststore.type=PEM --producer-property ssl.truststore.location=%[7]s \
    --producer-property sasl.jaas.config=%[8]s

Consume with the Kafka console consumer:
  kafka-console-consumer.sh --bootstrap-server %[6]s --topic purchases --from-beginning \
    --consumer-property security.protocol=SASL_SSL --consumer-property sasl.mechanism=PLAIN \
    --consumer-property ssl.truststore.type=PEM --consumer-property ssl.truststore.location=%[7]s \
    --consumer-property sasl.jaas.config=%[9]s

Produce with kcat:
  echo '{"item":"golden widget","price":25.5}' | kcat -P -b %[5]s -t purchases \
    -X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN -X ssl.ca.location=%[7]s \
    -X sasl.username=%[1]s -X sasl.password=%[3]s

Project over HTTP:
  curl%[11]s -H 'Authorization: %[2]s' %[10]s/3.0/projects/%[1]s

`, d.ID, d.MasterKey, d.WriteKey, d.ReadKey, i.inbound, i.outbound, ca, jaas(d.WriteKey), jaas(d.ReadKey), i.httpURL, i.curlCA())
}

// curlCA is curl's option to trust the HTTP API's certificate: sluice's
// CA when the HTTP API presents a certificate it signed.
func (i startInfo) curlCA() string {
	if i.httpTLS == nil || i.httpTLS.CAFile == "" {
		return ""
	}
	return " --cacert " + i.httpTLS.CAFile
}
