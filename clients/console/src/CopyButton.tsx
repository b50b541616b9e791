// A button that copies a text (a token, an event's JSON) to the clipboard and
// says so for a moment.
import { useEffect, useState, type JSX } from 'react';

/**
 * copyText uses the Clipboard API (a secure context: https, localhost,
 * 127.0.0.1) and falls back to a hidden textarea and execCommand('copy') on
 * plain http from another host.
 */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  try {
    if (!document.execCommand('copy')) throw new Error('copy refused');
  } finally {
    ta.remove();
  }
}

interface Props {
  text: string;
  label?: string;
  disabled?: boolean;
  testid?: string;
  title?: string;
}

export function CopyButton({ text, label = 'copy', disabled, testid, title }: Props): JSX.Element {
  const [done, setDone] = useState<'' | 'copied' | 'failed'>('');
  useEffect(() => {
    if (done === '') return;
    const t = setTimeout(() => setDone(''), 1500);
    return () => clearTimeout(t);
  }, [done]);
  return (
    <button
      type="button"
      className="copy"
      disabled={disabled || text === ''}
      title={title}
      data-testid={testid}
      data-copied={done}
      onClick={(e) => {
        e.stopPropagation();
        copyText(text).then(
          () => setDone('copied'),
          () => setDone('failed'),
        );
      }}
    >
      {done === '' ? label : done}
    </button>
  );
}
