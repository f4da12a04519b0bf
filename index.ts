import { Backups, BackupStore, backupsOutput } from "./components/backup";
import { loadStackConfig } from "./components/config";
import { stackLabels } from "./components/containerSettings";
import { DashboardApp } from "./components/dashboardApp";
import { Elasticsearch } from "./components/elasticsearch";
import { JupyterWorkspace } from "./components/jupyter";
import { MySql } from "./components/mysql";
import { stackProviders } from "./components/providers";
import { stackTarget } from "./components/target";

// Config first: a bad value stops the program here, with every problem listed, before
// anything is declared.
const config = loadStackConfig();
const projectDir = process.cwd();

const providers = stackProviders(config.stack, config.docker, config.swarm?.registry);
const options = { providers: [providers.docker, providers.random] };
const labels = stackLabels(config.stack, config.environment);

// One Docker engine or a swarm (config `target`), and the guide's sb-network on it: the
// services find each other by name there. Every service below is described once and
// rendered for the target.
const target = stackTarget(config, labels, providers);
const shared = { target, log: config.log, labels };

// With scheduled backups, their store first: Elasticsearch writes its snapshots into it.
const backupStore = config.backup ? new BackupStore("backup-store", { target, config: config.backup, data: config.data, labels }, options) : undefined;

const mysql = new MySql("mysql", { ...shared, config: config.mysql, data: config.data }, options);
const elasticsearch = new Elasticsearch("elasticsearch", { ...shared, config: config.elasticsearch, data: config.data, backupStore }, options);
const app = new DashboardApp(
    "app",
    {
        ...shared,
        config: config.app,
        mysql: {
            host: mysql.networkAlias,
            port: mysql.internalPort,
            user: mysql.user,
            database: mysql.database,
            password: mysql.password,
        },
        elasticsearchUrl: elasticsearch.internalUrl,
        waitFor: [mysql.workload, elasticsearch.workload],
        publicHost: config.publicHost,
        projectDir,
    },
    options,
);

const jupyter = config.jupyter
    ? new JupyterWorkspace("jupyter", { ...shared, config: config.jupyter, data: config.data, publicHost: config.publicHost }, options)
    : undefined;

const backups =
    config.backup && backupStore
        ? new Backups(
              "backup",
              {
                  ...shared,
                  config: config.backup,
                  store: backupStore,
                  // Each backup runs its store's own image, as the store's service does.
                  mysql: {
                      image: mysql.image,
                      containerName: config.mysql.containerName,
                      host: mysql.networkAlias,
                      port: mysql.internalPort,
                      database: mysql.database,
                      rootPassword: mysql.rootPassword,
                      workload: mysql.workload,
                  },
                  elasticsearch: {
                      image: elasticsearch.image,
                      containerName: config.elasticsearch.containerName,
                      url: elasticsearch.internalUrl,
                      workload: elasticsearch.workload,
                  },
                  notebooks:
                      jupyter && config.jupyter && jupyter.volumeName
                          ? {
                                image: jupyter.image,
                                containerName: config.jupyter.containerName,
                                volumeName: jupyter.volumeName,
                                workload: jupyter.workload,
                            }
                          : undefined,
              },
              options,
          )
        : undefined;

// Stack outputs. A service that is not published, or not part of this stack, has no
// entry rather than an empty one. Passwords and the Jupyter login URL are secrets.
export = {
    appUrl: app.url,
    networkName: target.network.name,
    mysqlUser: mysql.user,
    mysqlDatabase: mysql.database,
    mysqlPassword: mysql.password,
    mysqlRootPassword: mysql.rootPassword,
    ...(config.mysql.published ? { mysqlHost: config.publicHost, mysqlPort: config.mysql.published.port } : {}),
    ...(config.elasticsearch.publishedHttp
        ? { elasticsearchUrl: `http://${config.publicHost}:${config.elasticsearch.publishedHttp.port}` }
        : {}),
    ...(jupyter
        ? {
              jupyterUrl: jupyter.url,
              jupyterContainerName: jupyter.name,
              ...(jupyter.volumeName ? { jupyterVolumeName: jupyter.volumeName } : {}),
          }
        : {}),
    ...(config.backup && backupStore && backups ? { backups: backupsOutput(config.backup, backupStore, backups) } : {}),
};
