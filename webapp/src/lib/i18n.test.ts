import { describe, expect, it } from 'vitest'
import { CLIENT_ERROR_CODES, SERVER_ERROR_CODES } from '@/api/client'
import {
  detectLang,
  errorText,
  lastFrameText,
  messages,
  sourceKindText,
  translate,
  uploadErrorText,
  type Lang,
  type MessageKey,
} from '@/lib/i18n'

const t = (lang: Lang) => (key: MessageKey, vars?: Record<string, string | number>) => translate(lang, key, vars)

describe('i18n', () => {
  it('has every key in both languages, none empty', () => {
    const en = Object.keys(messages.en).sort()
    expect(Object.keys(messages.ko).sort()).toEqual(en)
    for (const lang of ['en', 'ko'] as const) {
      for (const k of en) expect(messages[lang][k as MessageKey], `${lang} ${k}`).not.toBe('')
    }
  })

  it('picks Korean for ko* browsers, English otherwise, and a stored choice first', () => {
    expect(detectLang(null, ['ko-KR', 'en'])).toBe('ko')
    expect(detectLang(null, ['ko'])).toBe('ko')
    expect(detectLang(null, ['en-US', 'ko'])).toBe('en')
    expect(detectLang(null, ['de'])).toBe('en')
    expect(detectLang(null, [])).toBe('en')
    expect(detectLang('en', ['ko-KR'])).toBe('en')
    expect(detectLang('ko', ['en'])).toBe('ko')
    expect(detectLang('fr', ['ko'])).toBe('ko')
  })

  it('fills placeholders', () => {
    expect(translate('en', 'state.reconnecting', { n: 3 })).toBe('Reconnecting (attempt 3)')
    expect(translate('ko', 'state.reconnecting', { n: 3 })).toBe('재연결 중 (시도 3)')
  })
})

describe('error texts', () => {
  const codes = [...SERVER_ERROR_CODES, ...CLIENT_ERROR_CODES]

  it.each(['en', 'ko'] as const)('every code has its own %s sentence, none the generic one', (lang) => {
    const texts = codes.map((code) => errorText(t(lang), code, 'detail'))
    expect(new Set(texts).size).toBe(codes.length)
    const generic = errorText(t(lang), 'no_such_code', 'detail')
    for (const text of texts) expect(text).not.toBe(generic)
  })

  it('adds the Retry-After wait', () => {
    expect(errorText(t('en'), 'rate_limited', '', 30)).toBe('Too many requests from this address. Try again in 30 s.')
    expect(errorText(t('ko'), 'rate_limited', '', 30)).toBe('이 주소에서 요청이 너무 많습니다. 30초 후에 다시 시도하세요.')
  })
})

describe('upload error messages', () => {
  const cases: [code: string, en: string, ko: string][] = [
    ['too_large', 'The file is too large for the server.', '파일이 너무 커서 서버가 받을 수 없습니다.'],
    ['unsupported_media', 'This file is not a video the server can read.', '서버가 읽을 수 있는 동영상 파일이 아닙니다.'],
    ['unusable_video', 'The video cannot be played', '재생할 수 없는 동영상입니다'],
    ['disk_full', 'The server is out of disk space.', '서버의 디스크 공간이 부족합니다.'],
    ['unreachable', 'The server cannot be reached.', '서버에 연결할 수 없습니다.'],
    ['connection_lost', 'The connection was lost in the middle of the upload.', '업로드 도중 연결이 끊어졌습니다.'],
    ['timeout', 'The upload timed out.', '업로드 시간이 초과되었습니다.'],
    ['aborted', 'The upload was cancelled.', '업로드를 취소했습니다.'],
  ]

  it.each(cases)('%s has its own English and Korean text, plus "keeps playing"', (code, enText, koText) => {
    const en = uploadErrorText(t('en'), code, 'server detail')
    const ko = uploadErrorText(t('ko'), code, 'server detail')
    expect(en.startsWith(enText)).toBe(true)
    expect(en.endsWith('The camera keeps playing its previous video.')).toBe(true)
    expect(ko.startsWith(koText)).toBe(true)
    expect(ko.endsWith('카메라는 이전 동영상을 계속 재생합니다.')).toBe(true)
  })

  it('all codes produce different sentences', () => {
    const texts = new Set(cases.map(([code]) => uploadErrorText(t('en'), code)))
    expect(texts.size).toBe(cases.length)
  })

  it('falls back to a generic text with the server message for unknown codes', () => {
    expect(uploadErrorText(t('en'), 'weird', 'boom')).toBe(
      'Something went wrong: boom The camera keeps playing its previous video.',
    )
  })
})

describe('live source texts', () => {
  it.each([
    [null, 'No frame yet', '아직 프레임 없음'],
    [400, 'Last frame just now', '마지막 프레임 방금 전'],
    [3200, 'Last frame 3 s ago', '마지막 프레임 3초 전'],
    [119_999, 'Last frame 119 s ago', '마지막 프레임 119초 전'],
    [600_000, 'Last frame 10 min ago', '마지막 프레임 10분 전'],
  ] as const)('last frame age %s ms', (ms, en, ko) => {
    expect(lastFrameText(t('en'), ms)).toBe(en)
    expect(lastFrameText(t('ko'), ms)).toBe(ko)
  })

  it('names the source kinds, and shows a kind it does not know as it is', () => {
    expect(sourceKindText(t('en'), 'mjpeg')).toBe('MJPEG stream')
    expect(sourceKindText(t('ko'), 'snapshot')).toBe('JPEG 스냅샷')
    expect(sourceKindText(t('en'), 'http')).toBe('Detecting…')
    expect(sourceKindText(t('en'), 'rtsp')).toBe('RTSP stream')
    expect(sourceKindText(t('ko'), 'rtsp')).toBe('RTSP 스트림')
    expect(sourceKindText(t('en'), 'onvif')).toBe('onvif')
  })
})
