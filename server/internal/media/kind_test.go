package media

import "testing"

func TestKindsHaveDistinctCodes(t *testing.T) {
	seen := map[string]Kind{}
	for _, k := range Kinds() {
		c, s := k.Code(), k.Status()
		if c == "" || s < 400 || s > 599 {
			t.Errorf("kind %d: code %q status %d", k, c, s)
		}
		if prev, ok := seen[c]; ok {
			t.Errorf("kinds %d and %d share code %q", prev, k, c)
		}
		seen[c] = k
	}
	if Kind(-1).Code() != "internal" || Kind(999).Status() != 500 {
		t.Error("unknown kinds must map to internal/500")
	}
}

func TestIsKind(t *testing.T) {
	err := Errorf(KindNotFound, "x")
	if !IsKind(err, KindNotFound) || IsKind(err, KindConflict) || IsKind(nil, KindNotFound) {
		t.Error("IsKind")
	}
}
