import { useCallback } from 'react';
import { useVitrine, type Consent } from '@vitrine/react';
import { saveConsent } from './state';

/** The three choices as the banner and the privacy page word them. */
export const CONSENT_CHOICES: { value: Consent; label: string; detail: string }[] = [
  {
    value: 'none',
    label: 'No personalization storage',
    detail: 'Nothing about you is kept on this device or sent. Offers match the page and situation only.',
  },
  {
    value: 'profile',
    label: 'Personalize on this device',
    detail: 'What you click and dismiss is kept in this browser to pick better offers. Nothing is sent.',
  },
  {
    value: 'signals',
    label: 'Personalize and help improve offers',
    detail: 'As above, and anonymized signals (no id, no cookies, no profile) help improve the offers for everyone.',
  },
];

export const consentLabel = (c: Consent) => CONSENT_CHOICES.find((x) => x.value === c)?.label ?? c;

/** Saves the shopper's choice and applies it to the live client at once ('none' erases what was stored). */
export function useChooseConsent(): (c: Consent) => Promise<void> {
  const { setConsent } = useVitrine();
  return useCallback(
    async (c: Consent) => {
      saveConsent(c);
      await setConsent(c);
    },
    [setConsent],
  );
}
