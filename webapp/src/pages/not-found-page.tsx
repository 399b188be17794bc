import { Link } from 'react-router'
import { useI18n } from '@/hooks/use-i18n'

export function NotFoundPage() {
  const { t } = useI18n()
  return (
    <section className="page">
      <h1>{t('common.notFound')}</h1>
      <Link to="/">{t('common.home')}</Link>
    </section>
  )
}
