package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/certform/certform/digicert"
	"github.com/certform/certform/spec"
	"github.com/certform/certform/state"
)

// reissue asks CertCentral for a new certificate on the same order, once.
// The order is read (GET) just before the POST, in the same run: it must
// be issued, and whether the reissue makes DigiCert revoke the earlier
// certificates (the common name changes, or a name the order has now is
// dropped) is judged on the names it reports then, not on the plan's; one
// that does is recorded in the revocation budget in the same write as the
// intent, and is not sent when the budget has no room left (a
// *BlockedError, max_revocations). An intent holding the current
// certificate id is saved before the POST. Only proof settles the intent:
// a decoded answer, or the order showing a reissue (status
// reissue_pending, another current certificate, or a reissue created since
// the first attempt). An intent left by an earlier attempt is settled that
// way first; the reissue is sent again only when nothing shows it and the
// intent is at least ResendAfter old. A definite refusal (a 4xx) clears
// the intent: CertCentral did nothing.
func (ap *applier) reissue(ctx context.Context, a Action) (string, error) {
	o := a.Spec
	if o == nil {
		return "", fmt.Errorf("reissue %s: no spec", a.Name)
	}
	if o.KeyType != "" && ap.Keys == nil {
		return "", ErrNoKeyStore
	}
	prev := ap.Store.Entry(a.Name)
	if prev == nil || prev.OrderID != a.OrderID {
		return "", fmt.Errorf("not reissued: the state no longer tracks order %d for %s (it changed after the plan was made)", a.OrderID, a.Name)
	}
	read, detail, done, err := ap.readBeforeReissue(ctx, a, prev.Intent)
	if done || err != nil {
		return detail, err
	}
	// A spec with key_type: a new key (key_rotation: always) or the
	// order's (never), or the earlier attempt's, stored before the intent.
	var k intentKey
	if o.KeyType != "" {
		reuse := o.KeyRotation == spec.KeyRotationNever && a.Reason != ReissueReplace && a.Reason != ReissueKey
		if k.csrPEM, k.key, k.fresh, err = ap.requestKey(a.Name, o, prev.Intent, prev.Key, reuse); err != nil {
			return "", err
		}
		if k.fresh && prev.Intent != nil && prev.Intent.Key != nil && prev.Intent.Key.CSRFingerprint != k.key.CSRFingerprint {
			k.stale = prev.Intent.Key
		}
	}
	if err := ap.saveReissueIntent(a, read, k); err != nil {
		return "", err
	}
	from := read.Certificate.ID
	req := &digicert.ReissueRequest{Certificate: orderRequest(o, "").Certificate, SkipApproval: o.SkipApproval}
	if k.csrPEM != "" {
		req.Certificate.CSR = k.csrPEM
	}
	resp, err := ap.API.Reissue(ctx, a.OrderID, req)
	if err != nil {
		return ap.settleReissueError(ctx, a, k.key, err)
	}
	if err := ap.recordReissueFixed(a.Name, o.FixedFields(), o.Fingerprint, from, k.key, time.Time{}); err != nil {
		return "", fmt.Errorf("the reissue of order %d was accepted, but saving it failed: %w; the next apply reads the order before sending anything", a.OrderID, err)
	}
	return fmt.Sprintf("reissue requested (%s)", requestStatus(resp.Requests)), nil
}

// readBeforeReissue settles the intent in of an earlier attempt first (a
// reissue that shows ends the action; one that does not waits until the
// intent is ResendAfter old), then reads the order just before the POST:
// only an issued order is reissued. done or err ends the action with
// detail.
func (ap *applier) readBeforeReissue(ctx context.Context, a Action, in *state.Intent) (read *digicert.Order, detail string, done bool, err error) {
	if in != nil {
		if in.Action != state.IntentReissue {
			return nil, "", true, fmt.Errorf("not reissued: an earlier %s of order %d has an unknown outcome", in.Action, a.OrderID)
		}
		detail, landed, cur, err := ap.settleReissue(ctx, a, in)
		if err != nil || landed {
			return nil, detail, true, err
		}
		if at := in.Started.Add(ap.ResendAfter); ap.now().Before(at) {
			return nil, "", true, &WaitError{Until: at, Why: fmt.Sprintf("the reissue of order %d sent at %s does not show yet; CertCentral may still be working on it, so it is not sent again before %s",
				a.OrderID, in.Started.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))}
		}
		read = cur
	}
	if read == nil {
		// Read before acting.
		if read, err = ap.API.GetOrder(ctx, a.OrderID); err != nil {
			return nil, "", true, fmt.Errorf("reading order %d before reissuing it: %w; nothing was sent", a.OrderID, err)
		}
	}
	if read.Status != "issued" {
		if err := ap.refresh(a.Name, read); err != nil {
			return nil, "", true, fmt.Errorf("saving what CertCentral reports of order %d: %w; nothing was sent", a.OrderID, err)
		}
		return nil, "", true, fmt.Errorf("not reissued: order %d is %s in CertCentral now (it changed after the plan was made); only an issued order is reissued, and the next run plans again", a.OrderID, orNone(read.Status))
	}
	return read, "", false, nil
}

// saveReissueIntent saves the reissue's intent with what CertCentral
// reports of the order now (read), in one write that takes a revocation
// from the budget when the reissue makes DigiCert revoke the earlier
// certificates (the budget full: a *BlockedError, nothing saved). A key
// made for this attempt goes again when nothing was saved; the earlier
// attempt's record of a key replaced goes once the intent is saved.
func (ap *applier) saveReissueIntent(a Action, read *digicert.Order, k intentKey) error {
	o := a.Spec
	have, want := namesOf(read), specNames(o)
	revokes := revokesPrevious(have, want)
	now := ap.now()
	fits, used := true, 0
	err := ap.Store.Mutate(func(f *state.File) {
		e := f.Entries[a.Name]
		if e == nil {
			return
		}
		recordOrder(e, read, now)
		if revokes {
			if fits, used = takeRevocation(f, a.Name, a.OrderID, now, ap.MaxRevocations); !fits {
				return
			}
		}
		in := &state.Intent{Action: state.IntentReissue, Fingerprint: o.Fingerprint, Fixed: o.FixedFields(), Started: now, FirstSent: now,
			Attempts: 1, Names: [][]string{want}, CertificateID: read.Certificate.ID}
		if old := e.Intent; old != nil {
			in.Attempts, in.FirstSent = old.Attempts+1, old.FirstSent
		}
		in.CSR, in.Key = k.csrPEM, k.key
		e.Intent = in
	})
	if err != nil || !fits {
		if k.fresh {
			ap.dropKey(a.Name, k.key, ap.Store.Entry(a.Name))
		}
	} else if k.stale != nil {
		ap.dropKey(a.Name, k.stale, ap.Store.Entry(a.Name))
	}
	if err != nil {
		return fmt.Errorf("saving the intent before reissuing: %w; nothing was sent", err)
	}
	if !fits {
		return budgetBlocked(fmt.Sprintf("order %d's names in CertCentral now are %s: the reissue to %s makes DigiCert revoke the earlier certificates (%s)",
			a.OrderID, strings.Join(have, ", "), strings.Join(want, ", "), describeNames(have, want)), ap.MaxRevocations, used)
	}
	return nil
}

// settleReissueError settles a reissue request that failed (err): when
// the outcome is unknown, a reissue that shows settles it and the intent
// stays otherwise; a definite refusal (a 4xx) clears the intent and drops
// the key made for it (key): CertCentral did nothing.
func (ap *applier) settleReissueError(ctx context.Context, a Action, key *state.KeyRecord, err error) (string, error) {
	if errors.Is(err, digicert.ErrOutcomeUnknown) {
		ap.Store.Update(a.Name, func(e *state.Entry) bool {
			if e.Intent != nil && e.Intent.Action == state.IntentReissue {
				e.Intent.Started = ap.now()
			}
			return true
		})
		if detail, landed, _, serr := ap.settleReissue(ctx, a, ap.Store.Entry(a.Name).Intent); landed && serr == nil {
			return detail, nil
		}
		return "", fmt.Errorf("%w; the intent stays: the next apply reads the order and sends the reissue again only if it did not land, no earlier than %s",
			err, ap.now().Add(ap.ResendAfter).UTC().Format(time.RFC3339))
	}
	var apiErr *digicert.APIError
	if errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 {
		if ap.Store.Update(a.Name, func(e *state.Entry) bool {
			if e.Intent != nil && e.Intent.Action == state.IntentReissue {
				e.Intent = nil
			}
			return true
		}) == nil && key != nil {
			ap.dropKey(a.Name, key, ap.Store.Entry(a.Name))
		}
	}
	return "", err
}

// requestStatus describes a reissue's approval requests ("approved",
// "pending approval"), or "accepted" when it has none.
func requestStatus(rs []digicert.RequestStatus) string {
	for _, r := range rs {
		if r.Status == "pending" || r.Status == "submitted" {
			return fmt.Sprintf("request %d waits for approval", r.ID)
		}
	}
	return "accepted"
}

// settleReissue looks for proof that a reissue whose outcome is unknown
// landed: the order is reissue_pending or has another current
// certificate than when the reissue was sent, or a reissue was created
// since its first attempt. Found, the reissue is recorded. It returns the
// order as it read it. An error means CertCentral could not be asked:
// nothing may be sent.
func (ap *applier) settleReissue(ctx context.Context, a Action, in *state.Intent) (detail string, landed bool, o *digicert.Order, err error) {
	if in == nil {
		return "", false, nil, nil
	}
	o, err = ap.API.GetOrder(ctx, a.OrderID)
	if err != nil {
		return "", false, nil, fmt.Errorf("reading order %d before reissuing again: %w; nothing was sent", a.OrderID, err)
	}
	proof := ""
	switch {
	case o.Status == "reissue_pending":
		proof = "the order is reissue_pending"
	case o.Certificate.ID != 0 && o.Certificate.ID != in.CertificateID:
		proof = fmt.Sprintf("the order's current certificate is %d, not %d", o.Certificate.ID, in.CertificateID)
	default:
		rs, err := ap.API.ListReissues(ctx, a.OrderID)
		if err != nil {
			return "", false, nil, fmt.Errorf("listing the reissues of order %d before reissuing again: %w; nothing was sent", a.OrderID, err)
		}
		for _, r := range rs {
			if t, ok := r.Created(); ok && !t.Before(in.FirstSent.Add(-time.Minute)) {
				proof = fmt.Sprintf("reissue %d was created at %s", r.ID, t.UTC().Format(time.RFC3339))
				break
			}
		}
	}
	if proof == "" {
		return "", false, o, nil
	}
	if err := ap.recordReissueFixed(a.Name, in.Fixed, in.Fingerprint, in.CertificateID, in.Key, in.FirstSent); err != nil {
		return "", false, nil, fmt.Errorf("the earlier reissue of order %d landed (%s), but saving it failed: %w", a.OrderID, proof, err)
	}
	return fmt.Sprintf("reissue found: the earlier request landed (%s)", proof), true, o, nil
}

// recordReissueFixed saves a reissue that landed: the intent is settled;
// the reissuable fixed fields (names, CSR, signature hash, server
// platform) become the ones asked for, the others stay the order's, and
// the fingerprint follows; the order is reissue_pending, so that every
// cycle reads it until CertCentral shows the new certificate. key, when
// not nil, is the key the reissue was made with: it becomes the entry's,
// and the one it had is kept until the new certificate is delivered (and
// in ReissuedKeyFrom, for a rejection to put it back). sent is when the
// request was first sent, zero for now: ReissuedAt, from which reading
// the order looks for certform's reissue (observe), so that a reissue
// found only cycles after its lost answer is still the one its rejection
// is recognised by.
func (ap *applier) recordReissueFixed(name string, fixed map[string]string, fingerprint string, from int, key *state.KeyRecord, sent time.Time) error {
	now := ap.now()
	if sent.IsZero() || sent.After(now) {
		sent = now
	}
	return ap.Store.Update(name, func(e *state.Entry) bool {
		e.Intent = nil
		e.ReissuedKeyFrom = nil
		if key != nil && e.Key != nil && e.Key.CSRFingerprint != key.CSRFingerprint {
			k := *e.Key
			e.ReissuedKeyFrom = &k
		}
		takeKey(e, key)
		merged := maps.Clone(e.Fixed)
		if merged == nil {
			merged = map[string]string{}
		}
		undo := map[string]string{}
		for k, v := range fixed {
			if spec.ReissueChanges(k) {
				if old, ok := merged[k]; ok {
					undo[k] = old
				}
				merged[k] = v
			}
		}
		for k, old := range merged {
			if _, asked := fixed[k]; !asked && k == "key_type" {
				// A spec that gave up key_type for a CSR.
				undo[k] = old
				delete(merged, k)
			}
		}
		e.ReissuedUndo, e.ReissueRejected = undo, nil
		e.Fixed = merged
		if len(merged) == len(fixed) && maps.Equal(merged, fixed) {
			e.Fingerprint = fingerprint
		} else {
			e.Fingerprint = spec.Fingerprint(merged)
		}
		if fingerprint != "" && fingerprint == spec.Fingerprint(fixed) {
			// The spec asked for the reissue loaded valid.
			e.Checked = fingerprint
		}
		e.ReissuedAt, e.ReissuedFrom = sent, from
		if e.CertificateID == from {
			e.Status = "reissue_pending"
		}
		return true
	})
}
