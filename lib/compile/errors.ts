export class CompileError extends Error {
  constructor(message: string, readonly diagnostics: string) {
    super(message);
    this.name = 'CompileError';
  }
}
