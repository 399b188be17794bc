import { Link } from 'react-router'
import { useI18n } from '@/hooks/use-i18n'
import { useCameras } from '@/hooks/use-cameras'
import { CameraTile } from '@/components/camera-tile'
import { ErrorMessage } from '@/components/error-message'

export function LivePage() {
  const { t } = useI18n()
  const { cameras, error } = useCameras()
  const count = cameras?.length ?? 0
  const size = count <= 1 ? 'one' : count <= 4 ? 'few' : count <= 9 ? 'some' : 'many'

  return (
    <section className="page">
      <h1 className="visually-hidden">{t('grid.title')}</h1>
      {error != null && !cameras && <ErrorMessage error={error} prefix={(m) => t('grid.loadError', { message: m })} />}
      {!cameras && error == null && <p className="muted">{t('common.loading')}</p>}
      {cameras && count === 0 && (
        <div className="empty">
          <p>{t('grid.empty')}</p>
          <Link className="button primary" to="/upload">
            {t('grid.emptyAction')}
          </Link>
          <Link className="button" to="/cameras">
            {t('grid.emptyAddUrl')}
          </Link>
        </div>
      )}
      {cameras && count > 0 && (
        <div className="grid" data-size={size} data-count={count}>
          {cameras.map((c) => (
            <CameraTile key={c.id} camera={c} />
          ))}
        </div>
      )}
    </section>
  )
}
