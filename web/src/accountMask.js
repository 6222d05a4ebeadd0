// The account number's 5-3-2 mask as the customer types ("1000000091" → "10000-000-91"), and where
// the caret belongs afterwards: after the same digits it followed before the dashes moved, so
// typing or deleting in the middle never throws it to the end of the field.

export function maskAccount(typed) {
  const digits = String(typed).replace(/\D/g, '').slice(0, 10);
  const parts = [digits.slice(0, 5), digits.slice(5, 8), digits.slice(8, 10)].filter(Boolean);
  return parts.join('-');
}

// The caret's place in `masked` for a caret at `caret` in what was typed.
export function caretAfterMask(typed, caret, masked) {
  const digitsBefore = String(typed).slice(0, caret).replace(/\D/g, '').length;
  if (digitsBefore === 0) return 0;
  let seen = 0;
  for (let at = 0; at < masked.length; at += 1) {
    if (/\d/.test(masked[at])) seen += 1;
    if (seen === digitsBefore) return at + 1;
  }
  return masked.length;
}

// One edit of the field: what the browser shows after the keystroke (`typed`, caret at `caret`,
// `inputType` as InputEvent names it) turned into the masked value and the caret's place in it.
// A dash deleted on its own would come straight back with the mask and leave the caret stuck
// in front of it: the digit beside it goes instead, as the customer meant.
export function editAccount(previous, typed, caret, inputType = '') {
  let text = String(typed);
  let at = caret;
  if (text.length < previous.length && maskAccount(text) === previous) {
    const digitsBefore = text.slice(0, at).replace(/\D/g, '').length;
    const forward = inputType === 'deleteContentForward';
    const target = forward ? digitsBefore + 1 : digitsBefore;
    const index = nthDigit(text, target);
    if (index >= 0) {
      text = text.slice(0, index) + text.slice(index + 1);
      at = forward ? at : index;
    }
  }
  const value = maskAccount(text);
  return { value, caret: caretAfterMask(text, at, value) };
}

// Where the nth digit (from 1) of `text` stands, or -1.
function nthDigit(text, n) {
  let seen = 0;
  for (let at = 0; at < text.length; at += 1) {
    if (/\d/.test(text[at])) seen += 1;
    if (n > 0 && seen === n) return at;
  }
  return -1;
}
