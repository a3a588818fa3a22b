/**
 * Text as read from a file an editor or PowerShell may have saved with a byte order mark: the mark is not
 * content, and JSON.parse and every pattern anchored at the start would trip on it.
 */
export const stripBom = (text: string): string => text.replace(/^\uFEFF/, "");
