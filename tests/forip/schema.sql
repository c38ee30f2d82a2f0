-- The ForIP Manager tables the driver reads, as in ForIP's PostgreSQL dump ("MANAGER FORIP",
-- fndiaz/admanager_dev forip.sql @ 8a814ed): the call tickets and the DDR routing tables.
DROP TABLE IF EXISTS f_bilhetes_chamadas, f_ddr, f_direcionamento;

CREATE TABLE f_bilhetes_chamadas (
    id serial PRIMARY KEY,
    id_tronco integer DEFAULT 0 NOT NULL,
    origem character varying NOT NULL,
    destino character varying NOT NULL,
    linked_id character varying NOT NULL,
    horario timestamp without time zone NOT NULL,
    status character varying NOT NULL,
    tarifacao double precision DEFAULT 0 NOT NULL,
    tempo integer NOT NULL,
    id_empresa integer NOT NULL,
    id_destino integer DEFAULT 0 NOT NULL,
    gravacao boolean NOT NULL,
    atendido character varying(10),
    nome_origem character varying(20),
    departamento character varying(50),
    transbordo character varying(5),
    arquivo_gravacao character varying(50)
);

CREATE TABLE f_ddr (
    id serial PRIMARY KEY,
    ddr character varying NOT NULL,
    id_ramalvirtual integer NOT NULL
);

CREATE TABLE f_direcionamento (
    id serial PRIMARY KEY,
    origem character varying(20) NOT NULL,
    ddr character varying(10) NOT NULL,
    ramal_virtual character varying(10) NOT NULL
);
