package httpapi

import (
	"net/http"

	"github.com/sluice-io/sluice/internal/registry"
)

// The Kafka stream settings of a project (master key only).

type listenerDoc struct {
	Enabled          *bool  `json:"enabled,omitempty"`
	BootstrapServers string `json:"bootstrap_servers"`
	SecurityProtocol string `json:"security_protocol"`
	SASLMechanism    string `json:"sasl_mechanism"`
	Username         string `json:"username"`
}

type streamsDoc struct {
	Inbound  listenerDoc `json:"inbound"`
	Outbound listenerDoc `json:"outbound"`
}

func (a *API) streamsDoc(p registry.Project, s registry.Streams) streamsDoc {
	enabled := s.OutboundEnabled
	return streamsDoc{
		Inbound: listenerDoc{BootstrapServers: a.cfg.InboundBootstrap, SecurityProtocol: "SASL_SSL", SASLMechanism: "PLAIN", Username: p.ID},
		Outbound: listenerDoc{Enabled: &enabled, BootstrapServers: a.cfg.OutboundBootstrap, SecurityProtocol: "SASL_SSL",
			SASLMechanism: "PLAIN", Username: p.ID},
	}
}

func (a *API) getStreams(w http.ResponseWriter, _ *http.Request, p registry.Project) {
	s, _ := a.cfg.Registry.Streams(p.ID)
	writeJSON(w, http.StatusOK, a.streamsDoc(p, s))
}

func (a *API) putOutbound(w http.ResponseWriter, r *http.Request, p registry.Project) {
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Enabled == nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestError", `The body must be {"enabled": true} or {"enabled": false}.`)
		return
	}
	s := registry.Streams{OutboundEnabled: *body.Enabled}
	if err := a.cfg.Registry.SetStreams(r.Context(), p.ID, s); err != nil {
		a.internalError(w, r, "saving stream settings", err)
		return
	}
	writeJSON(w, http.StatusOK, a.streamsDoc(p, s))
}
