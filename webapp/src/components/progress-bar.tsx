/** An accessible progress bar (role=progressbar, aria-valuenow 0–100). */
export function ProgressBar({ value, label, text }: { value: number; label: string; text?: string }) {
  const now = Math.max(0, Math.min(100, Math.round(value)))
  return (
    <div className="progress">
      <div
        className="progress-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={now}
        aria-valuetext={text ?? `${now}%`}
      >
        <div className="progress-fill" style={{ width: `${now}%` }} />
      </div>
      {text && <div className="progress-text">{text}</div>}
    </div>
  )
}
