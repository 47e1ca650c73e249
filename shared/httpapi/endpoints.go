package httpapi

import (
	"net/http"
	"time"

	"github.com/outhook/outhook/shared/webhook"
)

// The endpoint routes. A route with a {userId} is about one of that user's endpoints, one without about a
// static endpoint of the set.

func (h *handler) listStaticEndpoints(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.ListStaticEndpoints(r.Context(), r.PathValue("set"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *handler) listUserEndpoints(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.ListUserEndpoints(r.Context(), r.PathValue("set"), r.PathValue("userId"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *handler) getUserEndpoint(w http.ResponseWriter, r *http.Request) {
	ep, err := h.svc.GetUserEndpoint(r.Context(), r.PathValue("set"), r.PathValue("userId"), r.PathValue("name"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ep)
}

// endpointBody is the JSON body of PUT .../endpoints/{name}.
type endpointBody struct {
	URL         str  `json:"url"`
	EventTypes  strs `json:"eventTypes"`
	Description str  `json:"description"`
}

func (h *handler) putUserEndpoint(w http.ResponseWriter, r *http.Request) {
	var body endpointBody
	if !h.decodeBody(w, r, maxSmallBody, true, &body) {
		return
	}
	ep, created, err := h.svc.PutUserEndpoint(r.Context(), r.PathValue("set"), r.PathValue("userId"), r.PathValue("name"),
		webhook.EndpointRequest{URL: body.URL.value, EventTypes: body.EventTypes, Description: body.Description.value})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, ep)
}

func (h *handler) deleteUserEndpoint(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.DeleteUserEndpoint(r.Context(), r.PathValue("set"), r.PathValue("userId"), r.PathValue("name")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// emptyBody is the body of pause and resume: nothing, or an empty JSON object.
type emptyBody struct{}

func (h *handler) pause(w http.ResponseWriter, r *http.Request) {
	if !h.decodeBody(w, r, maxSmallBody, false, &emptyBody{}) {
		return
	}
	ep, err := h.svc.PauseEndpoint(r.Context(), r.PathValue("set"), r.PathValue("userId"), r.PathValue("name"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ep)
}

func (h *handler) resume(w http.ResponseWriter, r *http.Request) {
	if !h.decodeBody(w, r, maxSmallBody, false, &emptyBody{}) {
		return
	}
	ep, err := h.svc.ResumeEndpoint(r.Context(), r.PathValue("set"), r.PathValue("userId"), r.PathValue("name"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ep)
}

// recoverBody is the JSON body of recover: RFC 3339 times.
type recoverBody struct {
	Since str `json:"since"`
	Until str `json:"until"`
}

func (h *handler) recover(w http.ResponseWriter, r *http.Request) {
	var body recoverBody
	if !h.decodeBody(w, r, maxSmallBody, true, &body) {
		return
	}
	var req webhook.RecoverRequest
	if body.Since.set {
		since, err := time.Parse(time.RFC3339, body.Since.value)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, "invalid_since", "since must be an RFC 3339 time, e.g. 2026-12-01T15:04:05Z")
			return
		}
		req.Since = since
	}
	if body.Until.set {
		until, err := time.Parse(time.RFC3339, body.Until.value)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, "invalid_until", "until must be an RFC 3339 time, e.g. 2026-12-01T15:04:05Z")
			return
		}
		req.Until = &until
	}
	res, err := h.svc.RecoverEndpoint(r.Context(), r.PathValue("set"), r.PathValue("userId"), r.PathValue("name"), req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, res)
}
