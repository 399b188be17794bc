import { BrowserRouter } from 'react-router'
import { I18nProvider } from '@/hooks/use-i18n'
import { SettingsProvider } from '@/hooks/use-settings'
import { CameraSocketProvider } from '@/hooks/use-camera-socket'
import { AppRoutes } from '@/app/routes'
import { AuthGate } from '@/components/auth-gate'

export function App() {
  return (
    <I18nProvider>
      <SettingsProvider>
        <AuthGate>
          <CameraSocketProvider>
            <BrowserRouter>
              <AppRoutes />
            </BrowserRouter>
          </CameraSocketProvider>
        </AuthGate>
      </SettingsProvider>
    </I18nProvider>
  )
}
