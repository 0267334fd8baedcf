import { invalidArgument } from '../common/errors.js';
import { isUuid } from '../common/ids.js';
import { quoteInput } from '../common/money.js';

const USERNAME = /^[A-Za-z0-9_]{3,32}$/;
const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 256;

export function parseRequestId(text: string): string {
  if (text.length === 0) {
    throw invalidArgument(
      'INVALID_REQUEST_ID',
      'request_id is required: a UUID chosen by the client',
      'request_id',
    );
  }
  if (!isUuid(text)) {
    throw invalidArgument(
      'INVALID_REQUEST_ID',
      `request_id must be a UUID like "01890a5d-ac96-774b-bcce-b302099a8057"; got ${quoteInput(text)}`,
      'request_id',
    );
  }
  return text.toLowerCase();
}

export function parseUsername(text: string): string {
  if (!USERNAME.test(text)) {
    throw invalidArgument(
      'INVALID_USERNAME',
      `username must be 3 to 32 ASCII letters, digits or underscores; got ${quoteInput(text)}`,
      'username',
    );
  }
  return text;
}

export function parsePassword(text: string): string {
  if (text.length < MIN_PASSWORD_LENGTH || text.length > MAX_PASSWORD_LENGTH) {
    throw invalidArgument(
      'INVALID_PASSWORD',
      `password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long`,
      'password',
    );
  }
  return text;
}
