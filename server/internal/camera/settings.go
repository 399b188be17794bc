package camera

import (
	"context"

	"github.com/livemon/livemon/server/internal/media"
	"github.com/livemon/livemon/server/internal/store"
)

// Settings are the live-changeable camera settings; nil fields stay.
type Settings struct {
	Name  *string
	Loop  *bool
	Speed *float64
	// Source, if set, switches the camera to a live source URL (a new
	// epoch); loop and speed are kept but do not apply to it.
	Source *Source
	// Grid, if set, is the camera's own grid rendition: a zero field
	// takes the server's (--grid-width, --grid-fps). It applies at once.
	Grid *media.Grid
}

// gridSetter is a run whose grid rendition can change while it plays.
type gridSetter interface {
	SetGrid(media.Grid)
}

// effectiveGrid is the grid rendition a camera with record rec plays.
// Manager.mu or e.op is held.
func (m *Manager) effectiveGrid(rec store.Camera) media.Grid {
	return rec.Grid.OrDefault(m.cfg.Grid.OrDefault(media.DefaultGrid()))
}

// Source is a live source as an operator gives it.
type Source struct {
	URL       string // rtsp(s) or http(s); may carry user:password
	Transport string // "", "tcp" or "udp" (RTSP only; "" is tcp)
}

// Validate checks the settings' ranges.
func (s Settings) Validate() error {
	if s.Name != nil {
		n, err := media.ParseCameraName(*s.Name)
		if err != nil {
			return err
		}
		*s.Name = n
	}
	if s.Speed != nil && !(*s.Speed >= media.MinSpeed && *s.Speed <= media.MaxSpeed) {
		return media.Errorf(media.KindInvalid, "speed must be between %g and %g", media.MinSpeed, media.MaxSpeed)
	}
	if g := s.Grid; g != nil {
		if g.Width != 0 && (g.Width < media.MinGridWidth || g.Width > media.MaxGridWidth) {
			return media.Errorf(media.KindInvalid, "grid width must be 0 (the server's) or %d to %d pixels", media.MinGridWidth, media.MaxGridWidth)
		}
		if g.FPS != 0 && !(g.FPS > 0 && g.FPS <= media.MaxGridFPS) {
			return media.Errorf(media.KindInvalid, "grid fps must be 0 (the server's) or above 0 and at most %d", media.MaxGridFPS)
		}
	}
	if s.Source != nil {
		u, err := media.ParseSourceURL(s.Source.URL)
		if err != nil {
			return err
		}
		t, err := media.ParseRTSPTransport(u, s.Source.Transport)
		if err != nil {
			return err
		}
		s.Source.Transport = string(t)
	}
	return nil
}

// apply sets the fields s has on c.
func (s Settings) apply(c *store.Camera) {
	if s.Name != nil {
		c.Name = *s.Name
	}
	if s.Loop != nil {
		c.Loop = *s.Loop
	}
	if s.Speed != nil {
		c.Speed = *s.Speed
	}
	if s.Source != nil {
		c.SourceURL, c.SourceTransport = s.Source.URL, s.Source.Transport
	}
	if s.Grid != nil {
		c.Grid = *s.Grid
	}
}

// Update changes name, loop or speed live: the video does not restart.
// A Source switches the camera to that URL as a new epoch and starts it.
func (m *Manager) Update(ctx context.Context, id media.CameraID, s Settings) (View, error) {
	if err := s.Validate(); err != nil {
		return View{}, err
	}
	e, err := m.lock(id)
	if err != nil {
		return View{}, err
	}
	defer e.op.Unlock()
	rec, err := m.deps.Store.UpdateCamera(ctx, id, func(c *store.Camera) error {
		s.apply(c)
		return nil
	})
	if err != nil {
		return View{}, err
	}
	m.mu.Lock()
	e.rec.Name, e.rec.Loop, e.rec.Speed, e.rec.Grid = rec.Name, rec.Loop, rec.Speed, rec.Grid
	d, _ := e.dec.(playback)
	gs, _ := e.dec.(gridSetter)
	grid := m.effectiveGrid(rec)
	m.mu.Unlock()
	if s.Grid != nil && gs != nil {
		gs.SetGrid(grid)
	}
	if s.Source != nil {
		if err := m.switchSourceLocked(ctx, e, *s.Source); err != nil {
			return View{}, err
		}
		return m.view(e), nil
	}
	if d != nil {
		if s.Speed != nil {
			d.SetSpeed(*s.Speed)
		}
		if s.Loop != nil {
			d.SetLoop(*s.Loop)
		}
	}
	m.emit(EventSettings, e)
	return m.view(e), nil
}
