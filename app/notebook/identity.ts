// Who this browser is: a display name picked once and a colour derived from it, both remembered.

export interface LocalUser {
  name: string;
  color: string;
}

export const USER_STORAGE_KEY = 'notebook.user';
export const MAX_NAME_LENGTH = 40;

/** Colours readable as text on white and as a cursor on a light editor. */
export const USER_COLORS = [
  '#e11d48',
  '#db2777',
  '#c026d3',
  '#7c3aed',
  '#4f46e5',
  '#2563eb',
  '#0284c7',
  '#0d9488',
  '#059669',
  '#65a30d',
  '#ca8a04',
  '#ea580c',
];

export function colorForName(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return USER_COLORS[h % USER_COLORS.length];
}

export function cleanName(name: string): string {
  return name.replace(/[\u0000-\u001f]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_NAME_LENGTH);
}

export function loadUser(): LocalUser | null {
  try {
    const raw = window.localStorage.getItem(USER_STORAGE_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<LocalUser>;
    const name = typeof parsed.name === 'string' ? cleanName(parsed.name) : '';
    if (!name) return null;
    const color = typeof parsed.color === 'string' && /^#[0-9a-f]{6}$/i.test(parsed.color) ? parsed.color : colorForName(name);
    return { name, color };
  } catch {
    return null;
  }
}

export function saveUser(name: string): LocalUser {
  const clean = cleanName(name);
  const previous = loadUser();
  const user = { name: clean, color: previous?.color ?? colorForName(clean) };
  try {
    window.localStorage.setItem(USER_STORAGE_KEY, JSON.stringify(user));
  } catch {
    // private mode: the name lasts for this tab only
  }
  return user;
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  if (parts.length === 1) return parts[0].slice(0, 2).toUpperCase();
  return (parts[0][0] + parts[parts.length - 1][0]).toUpperCase();
}
