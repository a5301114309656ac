package httpapi

import (
	"errors"
	"net/http"

	"github.com/sluice-io/sluice/internal/registry"
)

// Access-key endpoints, exactly as Keen's (master key only).

func (a *API) createKey(w http.ResponseWriter, r *http.Request, p registry.Project) {
	in, ok := accessKeyBody(w, r)
	if !ok {
		return
	}
	k, err := a.cfg.Registry.CreateAccessKey(r.Context(), p.ID, in)
	if err != nil {
		a.internalError(w, r, "creating an access key", err)
		return
	}
	writeJSON(w, http.StatusCreated, k)
}

func (a *API) listKeys(w http.ResponseWriter, _ *http.Request, p registry.Project) {
	var keys []registry.AccessKey
	a.cfg.Registry.Read(func(v *registry.View) { keys = v.AccessKeys(p.ID) })
	writeJSON(w, http.StatusOK, keys)
}

func (a *API) getKey(w http.ResponseWriter, r *http.Request, p registry.Project) {
	var k registry.AccessKey
	var ok bool
	a.cfg.Registry.Read(func(v *registry.View) { k, ok = v.AccessKey(p.ID, r.PathValue("key")) })
	if !ok || k.Deleted {
		keyNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, k)
}

// replaceKey is Keen's full replace: what the body omits is cleared.
func (a *API) replaceKey(w http.ResponseWriter, r *http.Request, p registry.Project) {
	in, ok := accessKeyBody(w, r)
	if !ok {
		return
	}
	k, err := a.cfg.Registry.UpdateAccessKey(r.Context(), p.ID, r.PathValue("key"), func(k *registry.AccessKey) {
		k.Name, k.IsActive, k.Permitted, k.Options = in.Name, in.IsActive, in.Permitted, in.Options
	})
	a.answerKey(w, r, k, err, "replacing an access key")
}

func (a *API) setKeyActive(active bool) projectHandler {
	return func(w http.ResponseWriter, r *http.Request, p registry.Project) {
		k, err := a.cfg.Registry.UpdateAccessKey(r.Context(), p.ID, r.PathValue("key"), func(k *registry.AccessKey) { k.IsActive = active })
		a.answerKey(w, r, k, err, "revoking or unrevoking an access key")
	}
}

func (a *API) deleteKey(w http.ResponseWriter, r *http.Request, p registry.Project) {
	err := a.cfg.Registry.DeleteAccessKey(r.Context(), p.ID, r.PathValue("key"))
	switch {
	case errors.Is(err, registry.ErrNotFound):
		keyNotFound(w)
	case err != nil:
		a.internalError(w, r, "deleting an access key", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (a *API) answerKey(w http.ResponseWriter, r *http.Request, k registry.AccessKey, err error, doing string) {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		keyNotFound(w)
	case err != nil:
		a.internalError(w, r, doing, err)
	default:
		writeJSON(w, http.StatusOK, k)
	}
}

func keyNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "ResourceNotFoundError", "Access key not found in this project.")
}

func accessKeyBody(w http.ResponseWriter, r *http.Request) (registry.AccessKey, bool) {
	b, ok := readBody(w, r)
	if !ok {
		return registry.AccessKey{}, false
	}
	k, err := registry.ParseAccessKeyInput(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestError", err.Error())
		return k, false
	}
	return k, true
}
