import { Route, Routes } from 'react-router'
import { AppLayout } from '@/components/app-layout'
import { LivePage } from '@/pages/live-page'
import { CameraPage } from '@/pages/camera-page'
import { CamerasPage } from '@/pages/cameras-page'
import { UploadPage } from '@/pages/upload-page'
import { StatusPage } from '@/pages/status-page'
import { NotFoundPage } from '@/pages/not-found-page'

/** Client-side routes; the server answers every non-API path with index.html. */
export function AppRoutes() {
  return (
    <Routes>
      <Route element={<AppLayout />}>
        <Route index element={<LivePage />} />
        <Route path="cameras" element={<CamerasPage />} />
        <Route path="cameras/:id" element={<CameraPage />} />
        <Route path="upload" element={<UploadPage />} />
        <Route path="status" element={<StatusPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  )
}
