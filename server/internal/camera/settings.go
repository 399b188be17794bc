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
}

// Update changes name, loop or speed live: the video does not restart.
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
	e.rec.Name, e.rec.Loop, e.rec.Speed = rec.Name, rec.Loop, rec.Speed
	d := e.dec
	m.mu.Unlock()
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
