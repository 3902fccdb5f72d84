// Inline SVG icons (emoji do not render everywhere): each is decorative
// (aria-hidden); the control that holds it carries the words.
import { html } from './ui.js';

const paths = {
  chat: 'M4 5h16v11H8l-4 4z',
  doc: 'M6 3h8l4 4v14H6zM14 3v4h4',
  search: 'M11 4a7 7 0 1 1 0 14a7 7 0 0 1 0-14zM20 20l-4-4',
  bell: 'M6 16V11a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0',
  check: 'M5 12l4 4L19 6',
  task: 'M4 5h16v14H4zM8 12l3 3l5-6',
  mail: 'M3 6h18v12H3zM3 7l9 6l9-6',
  gear: 'M12 9a3 3 0 1 1 0 6a3 3 0 0 1 0-6zM12 2v3M12 19v3M2 12h3M19 12h3M5 5l2 2M17 17l2 2M5 19l2-2M17 7l2-2',
  upload: 'M12 16V4M7 9l5-5l5 5M4 20h16',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
  x: 'M6 6l12 12M18 6L6 18',
  send: 'M3 11l18-8l-8 18l-2-8z',
  stop: 'M7 7h10v10H7z',
  plus: 'M12 5v14M5 12h14',
  external: 'M14 4h6v6M20 4l-9 9M18 14v6H4V6h6',
  help: 'M12 3a9 9 0 1 1 0 18a9 9 0 0 1 0-18zM9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .8-1 1.5V14M12 17v.5',
  clock: 'M12 3a9 9 0 1 1 0 18a9 9 0 0 1 0-18zM12 7v5l3 3',
  edit: 'M4 20h4L20 8l-4-4L4 16zM14 6l4 4',
  download: 'M12 4v12M7 11l5 5l5-5M4 20h16',
  menu: 'M4 6h16M4 12h16M4 18h16',
  out: 'M10 4H4v16h6M14 8l4 4l-4 4M18 12H9',
  alert: 'M12 3l10 18H2zM12 10v5M12 18v.5',
};

/** An icon by name. */
export function Icon({ name, size = 20 }) {
  return html`<svg aria-hidden="true" focusable="false" width=${size} height=${size} viewBox="0 0 24 24"
    fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
    <path d=${paths[name] || paths.help} /></svg>`;
}
