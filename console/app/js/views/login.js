// Sign in with a username and password; the API's tokens are kept for this tab only.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { login, ApiError } from '../api.js';

export function mount(root, { onSignedIn }) {
  const user = h('input#login-user', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'off', spellcheck: 'false' });
  const pass = h('input#login-pass', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p.form-error', { role: 'alert', hidden: true });
  const submit = h('button.primary', { type: 'submit' }, t('login.submit'));
  const form = h(
    'form.login-card',
    { onsubmit: onSubmit, 'aria-labelledby': 'login-title' },
    h('div.login-brand', h('img', { src: '/console/favicon.svg', alt: '', width: 40, height: 40 }), h('h1#login-title', t('login.title'))),
    h('p.muted', t('login.intro')),
    h('label', { for: 'login-user' }, t('login.username')),
    user,
    h('label', { for: 'login-pass' }, t('login.password')),
    pass,
    error,
    submit,
  );
  root.replaceChildren(h('div.login-wrap', form));
  user.focus();

  async function onSubmit(e) {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = t('login.signing_in');
    try {
      await login(user.value.trim(), pass.value);
      await onSignedIn();
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401 ? t('login.bad') : err instanceof ApiError && err.status === 429 ? t('login.throttled') : t('error.network');
      error.hidden = false;
      submit.disabled = false;
      submit.textContent = t('login.submit');
      pass.select();
    }
  }
  return { unmount() {} };
}
