export * from './estimators';
export * from './diagnostics';
