import { Outlet } from 'react-router'
import { AppHeader } from '@/components/app-header'

export function AppLayout() {
  return (
    <div className="app">
      <AppHeader />
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  )
}
