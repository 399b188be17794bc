package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/livemon/livemon/server/internal/media"
)

// Upload is a published video file of a camera.
type Upload struct {
	ID           string // "u_" + 16 lowercase hex digits; safe to show clients
	Camera       media.CameraID
	File         string // generated name relative to videos/; never sent to clients
	OriginalName string // sanitised client file name, a label only
	Size         int64
	Info         media.VideoInfo
	CreatedAt    time.Time
}

var uploadIDPattern = regexp.MustCompile(`^u_[0-9a-f]{16}$`)

// IsUploadID reports whether s has the form of an upload id.
func IsUploadID(s string) bool { return uploadIDPattern.MatchString(s) }

// NewUploadID returns a fresh random upload id.
func NewUploadID() string { return "u_" + randomHex(8) }

const uploadCols = `id, camera, file, original_name, size, width, height, fps, frames, duration_ns, codec, created_at`

func scanUpload(r scanner) (Upload, error) {
	var (
		u            Upload
		dur, created int64
	)
	err := r.Scan(&u.ID, &u.Camera, &u.File, &u.OriginalName, &u.Size, &u.Info.Width, &u.Info.Height,
		&u.Info.FPS, &u.Info.Frames, &dur, &u.Info.Codec, &created)
	if err != nil {
		return Upload{}, err
	}
	u.Info.Duration = time.Duration(dur)
	u.CreatedAt = fromNanos(created)
	return u, nil
}

func getUpload(ctx context.Context, q querier, id string) (Upload, error) {
	u, err := scanUpload(q.QueryRowContext(ctx, `SELECT `+uploadCols+` FROM uploads WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Upload{}, media.Errorf(media.KindNotFound, "upload %q does not exist", id)
	}
	if err != nil {
		return Upload{}, fmt.Errorf("read upload %q: %w", id, err)
	}
	return u, nil
}

func cameraUploads(ctx context.Context, tx *sql.Tx, id media.CameraID) ([]Upload, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+uploadCols+` FROM uploads WHERE camera = ? ORDER BY created_at, rowid`, id)
	if err != nil {
		return nil, fmt.Errorf("list uploads of camera %q: %w", id, err)
	}
	defer rows.Close()
	var ups []Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, fmt.Errorf("list uploads of camera %q: %w", id, err)
		}
		ups = append(ups, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list uploads of camera %q: %w", id, err)
	}
	return ups, nil
}

// Upload returns one upload, or a KindNotFound error.
func (s *Store) Upload(ctx context.Context, id string) (Upload, error) {
	return getUpload(ctx, s.db, id)
}

// Uploads lists a camera's uploads, oldest first.
func (s *Store) Uploads(ctx context.Context, cam media.CameraID) ([]Upload, error) {
	var ups []Upload
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		ups, err = cameraUploads(ctx, tx, cam)
		return err
	})
	return ups, err
}

// DeleteUpload removes an upload's row and file; a file that is already
// gone is fine. The current video of a camera cannot be deleted
// (KindConflict): replace it or delete the camera.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	var u Upload
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if u, err = getUpload(ctx, tx, id); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM cameras WHERE upload_id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("delete upload %q: %w", id, err)
		}
		if n > 0 {
			return media.Errorf(media.KindConflict, "upload %q is a camera's current video", id)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM uploads WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete upload %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.removeVideo(u)
}

func (s *Store) removeVideo(u Upload) error {
	name, ok := videoName(u.File)
	if !ok {
		return fmt.Errorf("remove video of upload %q: bad stored name", u.ID)
	}
	if err := s.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove video of upload %q: %w", u.ID, err)
	}
	return nil
}

// videoName returns the root-relative name of a stored video file.
func videoName(file string) (string, bool) {
	if file == "" || strings.ContainsAny(file, `/\`) || !filepath.IsLocal(file) {
		return "", false
	}
	return videosDir + "/" + file, true
}

// VideoPath returns the absolute path of an upload's file, for the decoder.
// It must never be sent to clients. It returns "" for a malformed name.
func (s *Store) VideoPath(u Upload) string {
	name, ok := videoName(u.File)
	if !ok {
		return ""
	}
	return filepath.Join(s.dir, filepath.FromSlash(name))
}

// TempFile is an upload being received into tmp/. It is used by one
// goroutine. Either PublishUpload consumes it or Abort removes it.
type TempFile struct {
	root *os.Root
	dir  string // absolute data dir
	name string // root-relative
	f    *os.File
	w    io.Writer // f; tests replace it to simulate a full disk
	size int64
	done bool
}

// CreateTemp creates a new temporary upload file.
func (s *Store) CreateTemp() (*TempFile, error) {
	name := tmpDir + "/" + randomHex(16) + tmpSuffix
	f, err := s.root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		if isDiskFull(err) {
			return nil, errDiskFull(err)
		}
		return nil, fmt.Errorf("create temp upload file: %w", err)
	}
	return &TempFile{root: s.root, dir: s.dir, name: name, f: f, w: f}, nil
}

// Write appends p. A full disk is a KindDiskFull error.
func (t *TempFile) Write(p []byte) (int, error) {
	if t.done {
		return 0, errors.New("write temp upload file: already closed")
	}
	n, err := t.w.Write(p)
	t.size += int64(n)
	if err != nil {
		if isDiskFull(err) {
			return n, errDiskFull(err)
		}
		return n, fmt.Errorf("write temp upload file: %w", err)
	}
	return n, nil
}

// Size is the number of bytes written so far.
func (t *TempFile) Size() int64 { return t.size }

// Path is the absolute path of the file, for the prober to open. It must
// never be sent to clients.
func (t *TempFile) Path() string { return filepath.Join(t.dir, filepath.FromSlash(t.name)) }

// Abort closes and removes the file. It is idempotent and a no-op after a
// successful PublishUpload.
func (t *TempFile) Abort() {
	if t.done {
		return
	}
	t.done = true
	t.f.Close()
	t.root.Remove(t.name)
}

// PublishResult is what PublishUpload did.
type PublishResult struct {
	Upload Upload
	Camera Camera
	// Previous is the camera's video before this upload, or nil. Its row
	// and file stay until the caller, after stopping the old decoder,
	// calls DeleteUpload.
	Previous *Upload
}

// PublishUpload makes tf the camera's current video: it fsyncs the file,
// moves it to videos/<upload id><ext>, inserts the upload row and, in the
// same transaction, points the camera at it with a new run (Epoch+1,
// Seq=0, Frame=0, Running=true). A missing camera is created (Name=id,
// Loop=true, Speed=1).
//
// u supplies Camera, OriginalName (sanitised here) and Info; an empty ID is
// generated; File, Size and CreatedAt are set here. ext is the extension,
// normally taken from the original name; it is lowercased and reduced to
// [a-z0-9], and one that is empty or longer than 5 characters becomes
// ".bin". On any error tf is removed and nothing changes; a full disk is a
// KindDiskFull error.
func (s *Store) PublishUpload(ctx context.Context, tf *TempFile, u Upload, ext string) (PublishResult, error) {
	res, err := s.publish(ctx, tf, u, ext)
	tf.Abort()
	if err != nil {
		return PublishResult{}, mapDiskFull(err)
	}
	return res, nil
}

func (s *Store) publish(ctx context.Context, tf *TempFile, u Upload, ext string) (PublishResult, error) {
	if tf.done {
		return PublishResult{}, errors.New("publish upload: temp file already closed")
	}
	if _, err := media.ParseCameraID(string(u.Camera)); err != nil {
		return PublishResult{}, err
	}
	if u.ID == "" {
		u.ID = NewUploadID()
	} else if !uploadIDPattern.MatchString(u.ID) {
		return PublishResult{}, media.Errorf(media.KindInvalid, "malformed upload id")
	}
	u.File = u.ID + SanitizeExt(ext)
	u.OriginalName = SanitizeName(u.OriginalName)
	u.Size = tf.size
	u.CreatedAt = s.now().UTC()

	if err := tf.f.Sync(); err != nil {
		return PublishResult{}, fmt.Errorf("sync upload file: %w", err)
	}
	if err := tf.f.Close(); err != nil {
		return PublishResult{}, fmt.Errorf("close upload file: %w", err)
	}
	dst := videosDir + "/" + u.File
	if err := s.root.Rename(tf.name, dst); err != nil {
		return PublishResult{}, fmt.Errorf("move upload file into videos: %w", err)
	}
	tf.done = true // the temp name is gone; a failure below removes dst
	res, err := s.commitUpload(ctx, u)
	if err != nil {
		s.root.Remove(dst)
		return PublishResult{}, err
	}
	return res, nil
}

func (s *Store) commitUpload(ctx context.Context, u Upload) (PublishResult, error) {
	if err := s.syncDir(videosDir); err != nil {
		return PublishResult{}, err
	}
	var res PublishResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		c, err := getCamera(ctx, tx, u.Camera)
		now := s.now().UTC()
		switch {
		case media.IsKind(err, media.KindNotFound):
			c = Camera{ID: u.Camera, Name: string(u.Camera), Loop: true, Speed: 1, CreatedAt: now, UpdatedAt: now}
			if c, err = insertCamera(ctx, tx, c); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if c.UploadID != "" {
			prev, err := getUpload(ctx, tx, c.UploadID)
			if err != nil && !media.IsKind(err, media.KindNotFound) {
				return err
			}
			if err == nil {
				res.Previous = &prev
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO uploads (`+uploadCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			u.ID, u.Camera, u.File, u.OriginalName, u.Size, u.Info.Width, u.Info.Height, u.Info.FPS,
			u.Info.Frames, int64(u.Info.Duration), u.Info.Codec, nanos(u.CreatedAt))
		if err != nil {
			return fmt.Errorf("insert upload %q: %w", u.ID, err)
		}
		c.UploadID = u.ID
		c.SourceURL, c.SourceTransport = "", "" // the file plays again
		c.Epoch++
		c.Seq, c.Frame, c.Running = 0, 0, true
		c.UpdatedAt = now
		if err := updateCamera(ctx, tx, c); err != nil {
			return err
		}
		res.Upload, res.Camera = u, c
		return nil
	})
	return res, err
}

// SanitizeExt turns a file extension (with or without the dot) into a safe
// stored one: "." plus 1-5 characters of [a-z0-9], else ".bin".
func SanitizeExt(ext string) string {
	ext = strings.ToLower(strings.TrimPrefix(ext, "."))
	var b strings.Builder
	for _, r := range ext {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 || b.Len() > 5 {
		return ".bin"
	}
	return "." + b.String()
}

// MaxNameRunes is the longest sanitised original name.
const MaxNameRunes = 128

// SanitizeName turns a client-supplied file name into a label that is safe
// to store and show: only the last path element is kept, invalid UTF-8,
// control and format characters are dropped, runs of dots become one dot,
// surrounding spaces are trimmed and the result is cut to MaxNameRunes
// runes. It never contains '/', '\\', ".." or control characters and is
// never empty ("video" stands in). It is never used as a file name.
func SanitizeName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	lastDot := false
	for len(name) > 0 {
		r, size := utf8.DecodeRuneInString(name)
		name = name[size:]
		if r == utf8.RuneError && size <= 1 || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) ||
			r == '/' || r == '\\' || r == utf8.RuneError {
			continue
		}
		if r == '.' {
			if lastDot {
				continue
			}
			lastDot = true
		} else {
			lastDot = false
		}
		b.WriteRune(r)
	}
	out := strings.TrimSpace(b.String())
	if utf8.RuneCountInString(out) > MaxNameRunes {
		out = strings.TrimSpace(string([]rune(out)[:MaxNameRunes]))
	}
	if out == "" || out == "." {
		return "video"
	}
	return out
}
