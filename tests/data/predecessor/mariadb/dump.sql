/*M!999999\- enable the sandbox mode */ 
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: localhost    Database: pdr_test
-- ------------------------------------------------------
-- Server version	10.11.19-MariaDB-0+deb12u1

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;

--
-- Table structure for table `chemical_databases`
--

DROP TABLE IF EXISTS `chemical_databases`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `chemical_databases` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `chem_rates_file_name` varchar(255) NOT NULL,
  `chem_rates_full_path` varchar(255) DEFAULT NULL,
  `database_origin` varchar(50) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=2 DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `chemical_databases`
--

LOCK TABLES `chemical_databases` WRITE;
/*!40000 ALTER TABLE `chemical_databases` DISABLE KEYS */;
INSERT INTO `chemical_databases` VALUES (1,'chem_rates_2022-10-21-ERS.dat','/tmp/mockbase/pdrinpdata/chem_rates_2022-10-21-ERS.dat','UDfA12');
/*!40000 ALTER TABLE `chemical_databases` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `hdf_files`
--

DROP TABLE IF EXISTS `hdf_files`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `hdf_files` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `job_id` int(11) DEFAULT NULL,
  `pdrexe_id` int(11) DEFAULT NULL,
  `parameter_id` int(11) DEFAULT NULL,
  `model_name_id` int(11) DEFAULT NULL,
  `file_name` varchar(255) NOT NULL,
  `full_path` varchar(255) DEFAULT NULL,
  `path` varchar(255) DEFAULT NULL,
  `modification_time` datetime DEFAULT NULL,
  `sha256_sum` varchar(64) DEFAULT NULL,
  `file_size` int(11) DEFAULT NULL,
  `corrupt` tinyint(1) DEFAULT NULL,
  `comments` text DEFAULT NULL,
  `file_name_hdf5_s` varchar(255) NOT NULL,
  `full_path_hdf5_s` varchar(255) DEFAULT NULL,
  `path_hdf5_s` varchar(255) DEFAULT NULL,
  `modification_time_hdf5_s` datetime DEFAULT NULL,
  `sha256_sum_hdf5_s` varchar(64) DEFAULT NULL,
  `file_size_hdf5_s` int(11) DEFAULT NULL,
  `file_name_hdf5_c` varchar(255) NOT NULL,
  `full_path_hdf5_c` varchar(255) DEFAULT NULL,
  `path_hdf5_c` varchar(255) DEFAULT NULL,
  `modification_time_hdf5_c` datetime DEFAULT NULL,
  `sha256_sum_hdf5_c` varchar(64) DEFAULT NULL,
  `file_size_hdf5_c` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `job_id` (`job_id`),
  KEY `pdrexe_id` (`pdrexe_id`),
  KEY `parameter_id` (`parameter_id`),
  KEY `model_name_id` (`model_name_id`),
  CONSTRAINT `hdf_files_ibfk_1` FOREIGN KEY (`job_id`) REFERENCES `pdr_model_jobs` (`id`),
  CONSTRAINT `hdf_files_ibfk_2` FOREIGN KEY (`pdrexe_id`) REFERENCES `kosmatau_executables` (`id`),
  CONSTRAINT `hdf_files_ibfk_3` FOREIGN KEY (`parameter_id`) REFERENCES `kosmatau_parameters` (`id`),
  CONSTRAINT `hdf_files_ibfk_4` FOREIGN KEY (`model_name_id`) REFERENCES `model_names` (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=13 DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `hdf_files`
--

LOCK TABLES `hdf_files` WRITE;
/*!40000 ALTER TABLE `hdf_files` DISABLE KEYS */;
INSERT INTO `hdf_files` VALUES (1,1,1,1,1,'pdr100_30_-10_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_30_-10_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','a5b18cf3ef4b6dfb119cf1f9d90255d25bc2fe4e35909dbde050e9b273d0260f',3349,0,NULL,'pdrstruct100_30_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_30_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','20e579343106eac09baccbb9efda0f1703e9fcd1dcb116c2d853b9268c2bd382',3359,'pdrchem100_30_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_30_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','dea00dcfba3df6ec3f85dc7a912eb5a76b12faa92deb4e16a441a0edc7ee5715',3359);
INSERT INTO `hdf_files` VALUES (2,2,1,2,1,'pdr100_30_-10_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_30_-10_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','2b6fe5c7b5d3b13ed44a1810971ce11461bedba59fea7b6c8fba61da65d0f502',3350,0,NULL,'pdrstruct100_30_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_30_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','e9a5b2abbb93ca3ff0cb23602385603b3da5df60a8fe98ab197e1f4a93540aa3',3360,'pdrchem100_30_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_30_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','243b03b7e1e78e5a2d92bdecad6ed4fabcca7fff994974672e285cab946a5d8e',3360);
INSERT INTO `hdf_files` VALUES (3,3,1,3,1,'pdr100_30_00_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_30_00_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','191be9f32905828809edd8ca229adc7998dec0cbdbdcb43262c17738f1ed5bd2',3349,0,NULL,'pdrstruct100_30_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_30_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','9c01bf5b6d7bce68347960c3d77a47a33391ea99c5c5e9289819cfea66fd5489',3359,'pdrchem100_30_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_30_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','e0901cc53360a440bb5b11e23b666422cb6a33e50626a5142674b42fa777de26',3359);
INSERT INTO `hdf_files` VALUES (4,4,1,4,1,'pdr100_30_00_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_30_00_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','00ff600eadb1b374dae0e16b28a2e6a7d6e1024ec56f8076db396728b27b3711',3350,0,NULL,'pdrstruct100_30_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_30_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','474f9f924b8975503cb89369173b62f1166b9bdc16fd7bc67b5a45b0ffbb1faa',3360,'pdrchem100_30_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_30_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','b7fc38276a29d7d1863a18b6737315dfd9e6f5f35feb0861167d69425a46319c',3360);
INSERT INTO `hdf_files` VALUES (5,5,1,5,1,'pdr100_35_-10_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_35_-10_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','b9cbf34d653a578a69c26ff4568840235429dc1cbd63cca24d713d78a4b51ce9',3349,0,NULL,'pdrstruct100_35_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_35_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','045319dc270f3ba560dcdcb624af5ff648d3f167cec390ede6d0d552ef0428eb',3359,'pdrchem100_35_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_35_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:12','2fa9f6c48e7aaab2558507927fe46373cf05f6b3f8f7b68c28af32de6261aab9',3359);
INSERT INTO `hdf_files` VALUES (6,6,1,6,1,'pdr100_35_-10_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_35_-10_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','196e153f734485658c7b078a182b55d50e763503d598a8413e3106df5f7be769',3350,0,NULL,'pdrstruct100_35_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_35_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','586ed7cd860fc372646405d26bfc132d52c6a6a861b24df86a9935a53a7a5761',3360,'pdrchem100_35_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_35_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','1c327cceea5cafe96f6f9a650efaf962c54dbf969e99f9eca8eacd2be610a156',3360);
INSERT INTO `hdf_files` VALUES (7,7,1,7,1,'pdr100_35_00_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_35_00_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','ef99b1ab76c7cbe0aab86f4581d3a2d848c324d64029bdcccdda7721dd86f4b3',3349,0,NULL,'pdrstruct100_35_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_35_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','351463c00764539325e180cdacbbfd7f4e08c9f8480227b919e51673b46b51e5',3359,'pdrchem100_35_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_35_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','e7270bf6412341fb4cf2a27eed1bdd3bc3627b25c44ca9e2dd2bbba8badded68',3359);
INSERT INTO `hdf_files` VALUES (8,8,1,8,1,'pdr100_35_00_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_35_00_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','2a3bad1d72799b105f6ea7e72c0be2f9465df44ce78fc7554c559b1d20485171',3350,0,NULL,'pdrstruct100_35_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_35_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','2e540278c1527f164cd003b191b7d362b77373d9042f5de5231079571ab67237',3360,'pdrchem100_35_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_35_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','9aff4ef10700d7097ad0c6435ab954589a2d32dcfc480deaf4a54e3caae5b951',3360);
INSERT INTO `hdf_files` VALUES (9,9,1,9,1,'pdr100_40_-10_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_40_-10_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','8123aa1648a81abeaa385bdbb1c6b0d37e89ebbe296126e5b94e95437a4f8fca',3349,0,NULL,'pdrstruct100_40_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_40_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','887bfd0e6c69667da3f8ad4e8212cb6665c1637be1f806721e93b0570c700d55',3359,'pdrchem100_40_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_40_-10_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:13','267b5294c0f4e48d7d5a23bd6db77c2f1169779542303045f07aa836cdfcc08a',3359);
INSERT INTO `hdf_files` VALUES (10,10,1,10,1,'pdr100_40_-10_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_40_-10_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:14','adec4c69c837239a2eb83fe670b0ef07749da007d92101e42c56fd85c177204b',3350,0,NULL,'pdrstruct100_40_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_40_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:14','52f39621a4515f53801deb01d30b7798cd7c1415fa1870ac65d80b4bf55436e6',3360,'pdrchem100_40_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_40_-10_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:14','5bdd40804cc8ee7264308a036cb5ae66135eb6c15b25ed1e2b4dde8dfbe5c4d0',3360);
INSERT INTO `hdf_files` VALUES (11,11,1,11,1,'pdr100_40_00_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_40_00_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:14','9b327210cd0a7431245032753406769f94bcc9e763d64c4e2fe343d7df5a4318',3349,0,NULL,'pdrstruct100_40_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_40_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:14','35cc30ac2cec7b4ffa4a81410639a402ccb0798d3297724e7d772fe5f80207bc',3359,'pdrchem100_40_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_40_00_10_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:14','4ebad80a0bb37fc4ee1f38dea9791f1dae7824c7a782b9e7a349fff80bc9ca88',3359);
INSERT INTO `hdf_files` VALUES (12,12,1,12,1,'pdr100_40_00_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_40_00_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:14','21a6fed21e029ffebe57dc900c229eda10be41c39763425701516d2e4ff77156',3350,0,NULL,'pdrstruct100_40_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrstruct100_40_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:14','f98690ac182fe62959c6e0a0cde497bd152f9ef5175d6b55c16ba9cfabc82b00',3360,'pdrchem100_40_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdrchem100_40_00_20_00.hdf5','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid','2026-12-02 17:20:14','aa4339f01052f1b7e6862996dd1b735a5a16414e9ecb9d3cd50a7ef62be0fc2e',3360);
/*!40000 ALTER TABLE `hdf_files` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `json_files`
--

DROP TABLE IF EXISTS `json_files`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `json_files` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(255) NOT NULL,
  `path` varchar(512) NOT NULL,
  `archived_path` varchar(512) DEFAULT NULL,
  `sha256_sum` varchar(64) DEFAULT NULL,
  `created_at` datetime DEFAULT NULL,
  `template_id` int(11) DEFAULT NULL,
  `job_id` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `sha256_sum` (`sha256_sum`),
  KEY `template_id` (`template_id`),
  KEY `job_id` (`job_id`),
  CONSTRAINT `json_files_ibfk_1` FOREIGN KEY (`template_id`) REFERENCES `json_templates` (`id`),
  CONSTRAINT `json_files_ibfk_2` FOREIGN KEY (`job_id`) REFERENCES `pdr_model_jobs` (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=13 DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `json_files`
--

LOCK TABLES `json_files` WRITE;
/*!40000 ALTER TABLE `json_files` DISABLE KEYS */;
INSERT INTO `json_files` VALUES (1,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job1-3m6_v546/pdr_config.json',NULL,'3d8e2253388bc18dea683ef1677893c2aab1d85bfa1b3b6db4068ac7c7a19f2e','2026-12-02 17:20:11',NULL,1);
INSERT INTO `json_files` VALUES (2,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job2-wnzvalnh/pdr_config.json',NULL,'e6b9fe1a6d3eefb781b9d566da8e7cc0c93b3de3a5f26535ac33800e9bade2b3','2026-12-02 17:20:12',NULL,2);
INSERT INTO `json_files` VALUES (3,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job3-utejia62/pdr_config.json',NULL,'38ec7d7fffc81043d65b5aa8cb114c7ffac3fac08acb48bf01abc2334a01c283','2026-12-02 17:20:12',NULL,3);
INSERT INTO `json_files` VALUES (4,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job4-raicpl3e/pdr_config.json',NULL,'367daaf62ee6888ffd77fd989a980226974a287122d54e1ca6c8ca76858f42ae','2026-12-02 17:20:12',NULL,4);
INSERT INTO `json_files` VALUES (5,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job5-q74jrr85/pdr_config.json',NULL,'48d62481cc3499d7ad4e2d6a95155dc1d9dbc66de58c7d01dd3f9111c0c7f29a','2026-12-02 17:20:12',NULL,5);
INSERT INTO `json_files` VALUES (6,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job6-3wbtjbjn/pdr_config.json',NULL,'e1585e8442e9dcd89959ca6aca3ac73059ed4b81abb4aac72a44513c74bcc6c2','2026-12-02 17:20:13',NULL,6);
INSERT INTO `json_files` VALUES (7,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job7-dvf_34p5/pdr_config.json',NULL,'829b15e0720468a242ea1221e97cc6279d6b5d52beb2c0042b70de1b0f3b0bf5','2026-12-02 17:20:13',NULL,7);
INSERT INTO `json_files` VALUES (8,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job8-bado1n1d/pdr_config.json',NULL,'8fb7db149a3336b3b2b5b2b29c36fcfb958002d8921401ddaa1ac25040137d24','2026-12-02 17:20:13',NULL,8);
INSERT INTO `json_files` VALUES (9,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job9-ir6w4v8z/pdr_config.json',NULL,'752548365f3008a1b9e2031aa5d620c8a6ced8be874660fcd4c273b82091c27b','2026-12-02 17:20:13',NULL,9);
INSERT INTO `json_files` VALUES (10,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job10-j_gvrjbr/pdr_config.json',NULL,'0a7003ac77168c7a817c2bc0928a55a50e26217dc3adf8ea5cfe8e26504641d1','2026-12-02 17:20:13',NULL,10);
INSERT INTO `json_files` VALUES (11,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job11-6w5rmeqk/pdr_config.json',NULL,'0a7bb43c0612547fc73f3641ec03f6763589be15dd02c40f4a9b538616ed6856','2026-12-02 17:20:14',NULL,11);
INSERT INTO `json_files` VALUES (12,'pdr_config.json','/tmp/pdr_fixture/tmp/pdr-job12-v1zugjpt/pdr_config.json',NULL,'7a5a1ba4ec0a63bcb663ba9a1d8116d2b01686d0b2afadd0e609b84a79347f19','2026-12-02 17:20:14',NULL,12);
/*!40000 ALTER TABLE `json_files` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `json_templates`
--

DROP TABLE IF EXISTS `json_templates`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `json_templates` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(255) NOT NULL,
  `path` varchar(512) NOT NULL,
  `description` text DEFAULT NULL,
  `hash` varchar(64) DEFAULT NULL,
  `sha256_sum` varchar(64) DEFAULT NULL,
  `created_at` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `sha256_sum` (`sha256_sum`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `json_templates`
--

LOCK TABLES `json_templates` WRITE;
/*!40000 ALTER TABLE `json_templates` DISABLE KEYS */;
/*!40000 ALTER TABLE `json_templates` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `kosmatau_executables`
--

DROP TABLE IF EXISTS `kosmatau_executables`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `kosmatau_executables` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `code_revision` varchar(50) DEFAULT NULL,
  `compilation_date` datetime DEFAULT NULL,
  `executable_file_name` varchar(255) NOT NULL,
  `executable_full_path` varchar(255) DEFAULT NULL,
  `sha256_sum` varchar(64) DEFAULT NULL,
  `comment` varchar(250) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=2 DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `kosmatau_executables`
--

LOCK TABLES `kosmatau_executables` WRITE;
/*!40000 ALTER TABLE `kosmatau_executables` DISABLE KEYS */;
INSERT INTO `kosmatau_executables` VALUES (1,'mock-1.0','2025-02-11 11:01:00','mockpdr','/tmp/mockbase','9406350aa7f44729c5ba2ce9f91542700e977e0218c27a0aa577ca69b7467d5d',NULL);
/*!40000 ALTER TABLE `kosmatau_executables` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `kosmatau_parameters`
--

DROP TABLE IF EXISTS `kosmatau_parameters`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `kosmatau_parameters` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `model_name_id` int(11) DEFAULT NULL,
  `time_created` datetime DEFAULT current_timestamp(),
  `xnsur` float DEFAULT NULL,
  `mass` float DEFAULT NULL,
  `rtot` float DEFAULT NULL,
  `rcore` float DEFAULT NULL,
  `alpha` float DEFAULT NULL,
  `sigd` float DEFAULT NULL,
  `sint` float DEFAULT NULL,
  `cosray` float DEFAULT NULL,
  `beta` float DEFAULT NULL,
  `zmetal` float DEFAULT NULL,
  `preshh2` float DEFAULT NULL,
  `preshco` float DEFAULT NULL,
  `ifuvmeth` int(11) DEFAULT NULL,
  `idustmet` int(11) DEFAULT NULL,
  `ifuvtype` int(11) DEFAULT NULL,
  `fuvtemp` float DEFAULT NULL,
  `fuvstring` varchar(50) DEFAULT NULL,
  `inewgam` int(11) DEFAULT NULL,
  `iscatter` int(11) DEFAULT NULL,
  `ihtclgas` int(11) DEFAULT NULL,
  `tgasc` float DEFAULT NULL,
  `ihtcldust` int(11) DEFAULT NULL,
  `tdustc` float DEFAULT NULL,
  `ipehmeth` int(11) DEFAULT NULL,
  `indxpeh` int(11) DEFAULT NULL,
  `ihtclpah` int(11) DEFAULT NULL,
  `indstr` int(11) DEFAULT NULL,
  `inds` int(11) DEFAULT NULL,
  `indx` int(11) DEFAULT NULL,
  `d2gratio1` float DEFAULT NULL,
  `d2gratio2` float DEFAULT NULL,
  `d2gratio3` float DEFAULT NULL,
  `d2gratio4` float DEFAULT NULL,
  `d2gratio5` float DEFAULT NULL,
  `d2gratio6` float DEFAULT NULL,
  `d2gratio7` float DEFAULT NULL,
  `d2gratio8` float DEFAULT NULL,
  `d2gratio9` float DEFAULT NULL,
  `d2gratio10` float DEFAULT NULL,
  `ih2meth` int(11) DEFAULT NULL,
  `ih2onpah` int(11) DEFAULT NULL,
  `h2formc` float DEFAULT NULL,
  `ih2shld` int(11) DEFAULT NULL,
  `h2_structure` int(11) DEFAULT NULL,
  `h2_h_coll_rates` int(11) DEFAULT NULL,
  `h2_h_reactive_colls` int(11) DEFAULT NULL,
  `h2_use_gbar` int(11) DEFAULT NULL,
  `h2_quad_a` int(11) DEFAULT NULL,
  `ifh2des` int(11) DEFAULT NULL,
  `ifcrdes` int(11) DEFAULT NULL,
  `ifphdes` int(11) DEFAULT NULL,
  `ifthdes` int(11) DEFAULT NULL,
  `bindsites` float DEFAULT NULL,
  `ifchemheat` int(11) DEFAULT NULL,
  `ifheat_alfven` int(11) DEFAULT NULL,
  `alfven_velocity` float DEFAULT NULL,
  `alfven_column` float DEFAULT NULL,
  `temp_start` float DEFAULT NULL,
  `itmeth` int(11) DEFAULT NULL,
  `ichemeth` int(11) DEFAULT NULL,
  `inewtonstep` int(11) DEFAULT NULL,
  `omega_neg` float DEFAULT NULL,
  `omega_pos` float DEFAULT NULL,
  `lambda_newt` float DEFAULT NULL,
  `use_conservation` int(11) DEFAULT NULL,
  `rescaleQF` int(11) DEFAULT NULL,
  `precondLR` int(11) DEFAULT NULL,
  `resortQF` int(11) DEFAULT NULL,
  `nconv_time` int(11) DEFAULT NULL,
  `time_dependent` int(11) DEFAULT NULL,
  `use_dlsodes` int(11) DEFAULT NULL,
  `use_dlsoda` int(11) DEFAULT NULL,
  `use_dvodpk` int(11) DEFAULT NULL,
  `first_time_step_yrs` float DEFAULT NULL,
  `max_time_yrs` float DEFAULT NULL,
  `num_time_steps` int(11) DEFAULT NULL,
  `rtol_chem` float DEFAULT NULL,
  `atol_chem` float DEFAULT NULL,
  `Xhtry` float DEFAULT NULL,
  `Niter` int(11) DEFAULT NULL,
  `rtol_iter` float DEFAULT NULL,
  `step1` float DEFAULT NULL,
  `step2` float DEFAULT NULL,
  `ihdfout` int(11) DEFAULT NULL,
  `dbglvl` int(11) DEFAULT NULL,
  `grid` int(11) DEFAULT NULL,
  `elfrac4` float DEFAULT NULL,
  `elfrac12` float DEFAULT NULL,
  `elfrac13` float DEFAULT NULL,
  `elfrac14` float DEFAULT NULL,
  `elfrac16` float DEFAULT NULL,
  `elfrac18` float DEFAULT NULL,
  `elfrac19` float DEFAULT NULL,
  `elfrac20` float DEFAULT NULL,
  `elfrac23` float DEFAULT NULL,
  `elfrac24` float DEFAULT NULL,
  `elfrac27` float DEFAULT NULL,
  `elfrac28` float DEFAULT NULL,
  `elfrac31` float DEFAULT NULL,
  `elfrac32` float DEFAULT NULL,
  `elfrac35` float DEFAULT NULL,
  `elfrac39` float DEFAULT NULL,
  `elfrac40` float DEFAULT NULL,
  `elfrac41` float DEFAULT NULL,
  `elfrac56` float DEFAULT NULL,
  `species` text DEFAULT NULL,
  `comments` text DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `model_name_id` (`model_name_id`),
  CONSTRAINT `kosmatau_parameters_ibfk_1` FOREIGN KEY (`model_name_id`) REFERENCES `model_names` (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=13 DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `kosmatau_parameters`
--

LOCK TABLES `kosmatau_parameters` WRITE;
/*!40000 ALTER TABLE `kosmatau_parameters` DISABLE KEYS */;
INSERT INTO `kosmatau_parameters` VALUES (1,1,'2026-12-02 17:20:11',1000,0.1,2.45779e17,0.2,1.5,1.9e-21,10,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
INSERT INTO `kosmatau_parameters` VALUES (2,1,'2026-12-02 17:20:11',1000,0.1,2.45779e17,0.2,1.5,1.9e-21,100,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
INSERT INTO `kosmatau_parameters` VALUES (3,1,'2026-12-02 17:20:11',1000,1,5.29515e17,0.2,1.5,1.9e-21,10,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
INSERT INTO `kosmatau_parameters` VALUES (4,1,'2026-12-02 17:20:11',1000,1,5.29515e17,0.2,1.5,1.9e-21,100,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
INSERT INTO `kosmatau_parameters` VALUES (5,1,'2026-12-02 17:20:11',3162.28,0.1,1.67448e17,0.2,1.5,1.9e-21,10,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
INSERT INTO `kosmatau_parameters` VALUES (6,1,'2026-12-02 17:20:11',3162.28,0.1,1.67448e17,0.2,1.5,1.9e-21,100,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
INSERT INTO `kosmatau_parameters` VALUES (7,1,'2026-12-02 17:20:11',3162.28,1,3.60755e17,0.2,1.5,1.9e-21,10,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
INSERT INTO `kosmatau_parameters` VALUES (8,1,'2026-12-02 17:20:11',3162.28,1,3.60755e17,0.2,1.5,1.9e-21,100,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
INSERT INTO `kosmatau_parameters` VALUES (9,1,'2026-12-02 17:20:11',10000,0.1,1.14081e17,0.2,1.5,1.9e-21,10,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
INSERT INTO `kosmatau_parameters` VALUES (10,1,'2026-12-02 17:20:11',10000,0.1,1.14081e17,0.2,1.5,1.9e-21,100,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
INSERT INTO `kosmatau_parameters` VALUES (11,1,'2026-12-02 17:20:11',10000,1,2.45779e17,0.2,1.5,1.9e-21,10,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
INSERT INTO `kosmatau_parameters` VALUES (12,1,'2026-12-02 17:20:11',10000,1,2.45779e17,0.2,1.5,1.9e-21,100,2e-16,-1,1,0,0,1,1,2,20000,'Lyalpha.fuv',0,-1,1,50,1,20,1,4,1,1,4,7,0.00827485,0.00227746,0.000375578,0.000375578,0,0,0,0,0,0,1,0,2.121e-17,0,0,3,1,1,1,1,2,1,1,1.5e15,0,0,330000,4e20,0,2,0,1,5,2,0.5,1,0,0,0,0,0,1,0,0,0.0000000001,10000000,0,0.01,0.0000000001,1000000,60,0.03,100,200,4,0,0,0.0851,0.000234,0.00000352,0.0000832,0.000447,0.000000893,0.00000000668,0.000069,0.0000002,0.0000032,0.0000028,0.00000317,0.000000117,0.00000741,0.0000001,0.000000135,0.00000329,0.0000022,0.000001,'HE+ HE H+ H2+ H3+ C CH C+ CH+ CH2+ CH2 CH3+ CH3   CH4+ CH4 CH5+ CN CN+ HCN HCN+ CO CO+ HCO+ HCO CO2 CO2+  H2CO H2CO+   13C 13CH 13CO 13C+ 13CH+   13CH2+ 13CO+ H13CO+ N N2 N2+ N2H+ NO NO+ O   O+ OH OH+ H2O H2O+ H3O+   O2 O2+ 18O   C18O 13C18O O18O O18O+ 18OH 18OH+ H218O H218O+ H318O+ SO   SO+ SO2 SO2+ HSO2+ S S+ SI SI+ SIH SIH+   SIH2+ SIO SIO+ SIOH+   CH3OH+ CH3O CH3OH H2O2 JH JC JCH JCH2 JCH3 JCH4   JCN JHCN JCO JHCO JCO2 JH2CO JCH3O JCH3OH JN JN2   JNO JO JOH JH2O JH2O2 JO2 JSO JSO2 JS ',NULL);
/*!40000 ALTER TABLE `kosmatau_parameters` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `model_names`
--

DROP TABLE IF EXISTS `model_names`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `model_names` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `model_name` varchar(255) NOT NULL,
  `model_path` varchar(255) NOT NULL,
  `model_description` varchar(1000) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=2 DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `model_names`
--

LOCK TABLES `model_names` WRITE;
/*!40000 ALTER TABLE `model_names` DISABLE KEYS */;
INSERT INTO `model_names` VALUES (1,'m1','/tmp/pdr_fixture/mariadb/store/m1',NULL);
/*!40000 ALTER TABLE `model_names` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `pdr_model_jobs`
--

DROP TABLE IF EXISTS `pdr_model_jobs`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `pdr_model_jobs` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `model_name_id` int(11) DEFAULT NULL,
  `model_job_name` varchar(255) NOT NULL,
  `user_id` int(11) DEFAULT NULL,
  `kosmatau_parameters_id` int(11) DEFAULT NULL,
  `kosmatau_executable_id` int(11) DEFAULT NULL,
  `chemical_database_id` int(11) DEFAULT NULL,
  `pending` tinyint(1) DEFAULT NULL,
  `active` tinyint(1) DEFAULT NULL,
  `status` varchar(50) DEFAULT NULL,
  `time_of_start` datetime DEFAULT NULL,
  `time_of_finish` datetime DEFAULT NULL,
  `execution_time` datetime DEFAULT NULL,
  `token` varchar(250) DEFAULT NULL,
  `output_directory` varchar(255) DEFAULT NULL,
  `output_hdf4_file` varchar(255) DEFAULT NULL,
  `output_textout_file` varchar(255) DEFAULT NULL,
  `output_chemchk_file` varchar(255) DEFAULT NULL,
  `output_mcdrt_zip_file` varchar(255) DEFAULT NULL,
  `output_ctrl_ind_file` varchar(255) DEFAULT NULL,
  `output_hdf5_file` varchar(250) DEFAULT NULL,
  `input_pdrnew_inp_file` varchar(255) DEFAULT NULL,
  `input_json_file` varchar(512) DEFAULT NULL,
  `output_json_file` varchar(512) DEFAULT NULL,
  `log_file` varchar(255) DEFAULT NULL,
  `onion_species` varchar(255) DEFAULT NULL,
  `time_created` datetime DEFAULT current_timestamp(),
  `time_updated` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `model_name_id` (`model_name_id`),
  KEY `user_id` (`user_id`),
  KEY `kosmatau_parameters_id` (`kosmatau_parameters_id`),
  KEY `kosmatau_executable_id` (`kosmatau_executable_id`),
  KEY `chemical_database_id` (`chemical_database_id`),
  CONSTRAINT `pdr_model_jobs_ibfk_1` FOREIGN KEY (`model_name_id`) REFERENCES `model_names` (`id`),
  CONSTRAINT `pdr_model_jobs_ibfk_2` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`),
  CONSTRAINT `pdr_model_jobs_ibfk_3` FOREIGN KEY (`kosmatau_parameters_id`) REFERENCES `kosmatau_parameters` (`id`),
  CONSTRAINT `pdr_model_jobs_ibfk_4` FOREIGN KEY (`kosmatau_executable_id`) REFERENCES `kosmatau_executables` (`id`),
  CONSTRAINT `pdr_model_jobs_ibfk_5` FOREIGN KEY (`chemical_database_id`) REFERENCES `chemical_databases` (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=13 DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `pdr_model_jobs`
--

LOCK TABLES `pdr_model_jobs` WRITE;
/*!40000 ALTER TABLE `pdr_model_jobs` DISABLE KEYS */;
INSERT INTO `pdr_model_jobs` VALUES (1,1,'100_30_-10_10_00',1,1,1,1,0,0,'finished','2026-12-02 17:20:11','2026-12-02 17:20:12',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_30_-10_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_30_-10_10_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_30_-10_10_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_30_-10_10_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_30_-10_10_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_30_-10_10_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_30_-10_10_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_30_-10_10_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:12');
INSERT INTO `pdr_model_jobs` VALUES (2,1,'100_30_-10_20_00',1,2,1,1,0,0,'finished','2026-12-02 17:20:12','2026-12-02 17:20:12',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_30_-10_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_30_-10_20_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_30_-10_20_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_30_-10_20_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_30_-10_20_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_30_-10_20_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_30_-10_20_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_30_-10_20_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:12');
INSERT INTO `pdr_model_jobs` VALUES (3,1,'100_30_00_10_00',1,3,1,1,0,0,'finished','2026-12-02 17:20:12','2026-12-02 17:20:12',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_30_00_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_30_00_10_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_30_00_10_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_30_00_10_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_30_00_10_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_30_00_10_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_30_00_10_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_30_00_10_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:12');
INSERT INTO `pdr_model_jobs` VALUES (4,1,'100_30_00_20_00',1,4,1,1,0,0,'finished','2026-12-02 17:20:12','2026-12-02 17:20:12',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_30_00_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_30_00_20_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_30_00_20_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_30_00_20_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_30_00_20_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_30_00_20_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_30_00_20_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_30_00_20_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:12');
INSERT INTO `pdr_model_jobs` VALUES (5,1,'100_35_-10_10_00',1,5,1,1,0,0,'finished','2026-12-02 17:20:12','2026-12-02 17:20:12',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_35_-10_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_35_-10_10_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_35_-10_10_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_35_-10_10_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_35_-10_10_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_35_-10_10_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_35_-10_10_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_35_-10_10_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:12');
INSERT INTO `pdr_model_jobs` VALUES (6,1,'100_35_-10_20_00',1,6,1,1,0,0,'finished','2026-12-02 17:20:13','2026-12-02 17:20:13',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_35_-10_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_35_-10_20_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_35_-10_20_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_35_-10_20_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_35_-10_20_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_35_-10_20_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_35_-10_20_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_35_-10_20_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:13');
INSERT INTO `pdr_model_jobs` VALUES (7,1,'100_35_00_10_00',1,7,1,1,0,0,'finished','2026-12-02 17:20:13','2026-12-02 17:20:13',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_35_00_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_35_00_10_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_35_00_10_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_35_00_10_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_35_00_10_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_35_00_10_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_35_00_10_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_35_00_10_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:13');
INSERT INTO `pdr_model_jobs` VALUES (8,1,'100_35_00_20_00',1,8,1,1,0,0,'finished','2026-12-02 17:20:13','2026-12-02 17:20:13',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_35_00_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_35_00_20_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_35_00_20_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_35_00_20_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_35_00_20_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_35_00_20_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_35_00_20_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_35_00_20_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:13');
INSERT INTO `pdr_model_jobs` VALUES (9,1,'100_40_-10_10_00',1,9,1,1,0,0,'finished','2026-12-02 17:20:13','2026-12-02 17:20:13',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_40_-10_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_40_-10_10_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_40_-10_10_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_40_-10_10_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_40_-10_10_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_40_-10_10_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_40_-10_10_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_40_-10_10_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:13');
INSERT INTO `pdr_model_jobs` VALUES (10,1,'100_40_-10_20_00',1,10,1,1,0,0,'finished','2026-12-02 17:20:13','2026-12-02 17:20:14',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_40_-10_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_40_-10_20_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_40_-10_20_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_40_-10_20_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_40_-10_20_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_40_-10_20_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_40_-10_20_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_40_-10_20_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:14');
INSERT INTO `pdr_model_jobs` VALUES (11,1,'100_40_00_10_00',1,11,1,1,0,0,'finished','2026-12-02 17:20:14','2026-12-02 17:20:14',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_40_00_10_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_40_00_10_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_40_00_10_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_40_00_10_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_40_00_10_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_40_00_10_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_40_00_10_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_40_00_10_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:14');
INSERT INTO `pdr_model_jobs` VALUES (12,1,'100_40_00_20_00',1,12,1,1,0,0,'finished','2026-12-02 17:20:14','2026-12-02 17:20:14',NULL,NULL,'/tmp/pdr_fixture/mariadb/store/m1','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr100_40_00_20_00.hdf','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_40_00_20_00','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/chemchk100_40_00_20_00.out','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/MCDRT100_40_00_20_00.tar.gz','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/CTRL_IND100_40_00_20_00',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/PDRNEW100_40_00_20_00.INP','/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/pdr_config100_40_00_20_00.json',NULL,'/tmp/pdr_fixture/mariadb/store/m1/pdrgrid/TEXTOUT100_40_00_20_00','CO C+','2026-12-02 17:20:11','2026-12-02 17:20:14');
/*!40000 ALTER TABLE `pdr_model_jobs` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `users`
--

DROP TABLE IF EXISTS `users`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `users` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `username` varchar(255) NOT NULL,
  `email` varchar(255) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=2 DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `users`
--

LOCK TABLES `users` WRITE;
/*!40000 ALTER TABLE `users` DISABLE KEYS */;
INSERT INTO `users` VALUES (1,'Fixture User','fixture@example.org');
/*!40000 ALTER TABLE `users` ENABLE KEYS */;
UNLOCK TABLES;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on 2026-12-02 17:20:20
