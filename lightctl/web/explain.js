// Refusals from the API in the dispatcher's words: one place that turns an ApiError into a
// sentence, so every view says the same thing about the same problem.

import { t } from './i18n.js';

/** Any refusal that is not about one field, in plain words. */
export function explainApiError(error) {
  if (error.status === 0) return t('err.network');
  if (error.status === 401) return t('err.signedOut');
  if (error.status === 403) return t('err.forbidden', { detail: error.message });
  if (error.status === 429) return t('err.rateLimited');
  if (error.status === 409) {
    return t('err.ended', { status: t(`status.${(error.problem && error.problem.state) || 'ended'}`) });
  }
  return t('err.generic', { detail: error.message });
}

/** Why an approval (or dropping a held alert) was refused, in plain words. */
export function explainApproval(error) {
  if (error.status === 403 && /second person/i.test(error.message)) return t('approvals.notYourself');
  if (error.status === 409) return t('approvals.decided', { detail: error.message });
  if (error.status === 404) return t('approvals.gone');
  return explainApiError(error);
}

/** A target refusal in plain words, and which fix the page can offer. */
export function explainTarget(error) {
  if (error.status === 0) return { text: t('err.network'), fix: null };
  const problems = error.errors && error.errors.length ? error.errors : [{ loc: [], msg: error.message }];
  let fix = null;
  const texts = problems.map((p) => {
    const msg = p.msg || '';
    if (/self-intersection|invalid polygon|ring self|too few points/i.test(msg)) {
      fix = 'repair';
      return t('err.selfIntersect');
    }
    if (/no surface left/i.test(msg)) return t('err.noSurface');
    if (/no lanterns in target/i.test(msg)) return t('err.noLanterns');
    if (/target is empty/i.test(msg)) return t('err.noTarget');
    if (/no lantern stands on a street/i.test(msg)) {
      const hint = p.suggestions && p.suggestions.length ? ` ${t('err.didYouMean', { names: p.suggestions.join(', ') })}` : '';
      return t('err.unknownStreet', { name: p.value ?? '' }) + hint;
    }
    if (/unknown group/i.test(msg)) return t('err.unknownGroup', { name: p.value ?? '' });
    if (/more than the ceiling/i.test(msg)) return t('err.tooLarge', { n: p.value ?? '' });
    return t('err.generic', { detail: msg });
  });
  return { text: [...new Set(texts)].join(' '), fix };
}
