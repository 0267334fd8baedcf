import type { Command } from 'commander';
import { DATA_DIR, type Setting, settingOption } from './settings.js';

/** The data directory of a running system: its run files give the addresses a command that acts on it needs. */
export const RUNNING_DATA_DIR: Setting<string> = {
  ...DATA_DIR,
  description: 'data directory of the running system',
};

/**
 * Adds the options of a command that acts on a running system: its data
 * directory, then `settings` (each found in the system's run files unless given).
 */
export function withRunningSystemOptions(command: Command, ...settings: Setting<unknown>[]): Command {
  command.addOption(settingOption(RUNNING_DATA_DIR));
  for (const setting of settings) command.addOption(settingOption(setting));
  return command;
}
